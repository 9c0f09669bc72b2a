BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'statenode','m001_records','2026-12-02 14:10:46.602286+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'statenode','m002_imports','2026-12-02 14:10:46.608101+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'statenode','m003_covering_match_keys','2026-12-02 14:10:46.616082+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'statenode.federation','m001_federation','2026-12-02 14:10:46.620455+00:00');
INSERT INTO "_sqlite_migrations" VALUES(5,'statenode.federation','m002_handle_last_use','2026-12-02 14:10:46.620765+00:00');
INSERT INTO "_sqlite_migrations" VALUES(6,'statenode.federation','m003_handle_matched','2026-12-02 14:10:46.621015+00:00');
INSERT INTO "_sqlite_migrations" VALUES(7,'statenode.accounts','m001_accounts','2026-12-02 14:10:46.624999+00:00');
INSERT INTO "_sqlite_migrations" VALUES(8,'statenode.accounts','m002_login_addresses','2026-12-02 14:10:46.625215+00:00');
INSERT INTO "_sqlite_migrations" VALUES(9,'statenode.links','m001_links','2026-12-02 14:10:46.628516+00:00');
CREATE TABLE assessments (
  id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  "assessment_title" TEXT,
  "assessment_content" TEXT,
  "assessment_type" TEXT,
  "administration_month" TEXT,
  "reporting_method" TEXT,
  "score_result" TEXT,
  "interpretation" TEXT,
  "interpretation_raw" TEXT);
INSERT INTO "assessments" VALUES(1,2,0,'TX State Assessment Mathematics','Mathematics','01','2025-01','scale_score','1525','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(2,2,1,'TX State Assessment Mathematics','Mathematics','01','2024-09','scale_score','1549','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(3,2,2,'TX State Assessment Mathematics','Mathematics','01','2024-10','scale_score','1267','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(4,3,0,'TX State Assessment Reading','Reading','01','2025-05','scale_score','1380','Advanced','Advanced');
INSERT INTO "assessments" VALUES(5,5,0,'TX State Assessment Mathematics','Mathematics','01','2024-02','scale_score','1464','Proficient','Proficient');
INSERT INTO "assessments" VALUES(6,5,1,'TX State Assessment Science','Science','01','2023-10','scale_score','1712','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(7,5,2,'TX State Assessment Reading','Reading','01','2024-12','scale_score','1794','Proficient','Proficient');
INSERT INTO "assessments" VALUES(8,6,0,'TX State Assessment Mathematics','Mathematics','01','2025-05','scale_score','1760','Basic','Basic');
INSERT INTO "assessments" VALUES(9,11,0,'TX State Assessment Mathematics','Mathematics','01','2025-03','scale_score','1377','Advanced','Advanced');
INSERT INTO "assessments" VALUES(10,11,1,'TX State Assessment Science','Science','01','2025-06','scale_score','1503','Advanced','Advanced');
INSERT INTO "assessments" VALUES(11,11,2,'TX State Assessment Reading','Reading','01','2023-09','scale_score','1412','Basic','Basic');
INSERT INTO "assessments" VALUES(12,12,0,'TX State Assessment Mathematics','Mathematics','01','2024-10','scale_score','1281','Advanced','Advanced');
INSERT INTO "assessments" VALUES(13,13,0,'TX State Assessment Reading','Reading','01','2023-11','scale_score','1480','Proficient','Proficient');
INSERT INTO "assessments" VALUES(14,14,0,'TX State Assessment Mathematics','Mathematics','01','2024-02','scale_score','1555','Proficient','Proficient');
INSERT INTO "assessments" VALUES(15,14,1,'TX State Assessment Mathematics','Mathematics','01','2024-10','scale_score','1227','Proficient','Proficient');
INSERT INTO "assessments" VALUES(16,15,0,'TX State Assessment Mathematics','Mathematics','01','2023-09','scale_score','1511','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(17,18,0,'TX State Assessment Science','Science','01','2023-11','scale_score','1527','Advanced','Advanced');
INSERT INTO "assessments" VALUES(18,19,0,'TX State Assessment Science','Science','01','2025-04','scale_score','1377','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(19,19,1,'TX State Assessment Reading','Reading','01','2025-07','scale_score','1684','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(20,19,2,'TX State Assessment Science','Science','01','2024-04','scale_score','1451','Basic','Basic');
INSERT INTO "assessments" VALUES(21,20,0,'TX State Assessment Mathematics','Mathematics','01','2023-10','scale_score','1666','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(22,21,0,'TX State Assessment Science','Science','01','2023-11','scale_score','1433','Advanced','Advanced');
INSERT INTO "assessments" VALUES(23,22,0,'TX State Assessment Mathematics','Mathematics','01','2024-03','scale_score','1732','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(24,23,0,'TX State Assessment Reading','Reading','01','2024-03','scale_score','1680','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(25,23,1,'TX State Assessment Science','Science','01','2025-03','scale_score','1633','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(26,23,2,'TX State Assessment Reading','Reading','01','2024-02','scale_score','1686','Proficient','Proficient');
INSERT INTO "assessments" VALUES(27,24,0,'TX State Assessment Mathematics','Mathematics','01','2023-09','scale_score','1754','Proficient','Proficient');
INSERT INTO "assessments" VALUES(28,24,1,'TX State Assessment Science','Science','01','2024-02','scale_score','1512','Proficient','Proficient');
INSERT INTO "assessments" VALUES(29,24,2,'TX State Assessment Mathematics','Mathematics','01','2023-09','scale_score','1529','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(30,25,0,'TX State Assessment Science','Science','01','2024-03','scale_score','1259','Proficient','Proficient');
INSERT INTO "assessments" VALUES(31,25,1,'TX State Assessment Mathematics','Mathematics','01','2024-06','scale_score','1362','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(32,26,0,'TX State Assessment Reading','Reading','01','2024-05','scale_score','1761','Proficient','Proficient');
INSERT INTO "assessments" VALUES(33,26,1,'TX State Assessment Mathematics','Mathematics','01','2025-05','scale_score','1464','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(34,27,0,'TX State Assessment Mathematics','Mathematics','01','2024-05','scale_score','1552','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(35,27,1,'TX State Assessment Science','Science','01','2025-05','scale_score','1253','Basic','Basic');
INSERT INTO "assessments" VALUES(36,27,2,'TX State Assessment Reading','Reading','01','2024-04','scale_score','1508','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(37,28,0,'TX State Assessment Science','Science','01','2023-11','scale_score','1726','Advanced','Advanced');
INSERT INTO "assessments" VALUES(38,29,0,'TX State Assessment Reading','Reading','01','2023-09','scale_score','1453','Proficient','Proficient');
INSERT INTO "assessments" VALUES(39,30,0,'TX State Assessment Science','Science','01','2025-02','scale_score','1645','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(40,30,1,'TX State Assessment Reading','Reading','01','2023-12','scale_score','1532','Advanced','Advanced');
INSERT INTO "assessments" VALUES(41,31,0,'TX State Assessment Science','Science','01','2025-02','scale_score','1474','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(42,34,0,'TX State Assessment Mathematics','Mathematics','01','2025-04','scale_score','1299','Basic','Basic');
INSERT INTO "assessments" VALUES(43,34,1,'TX State Assessment Science','Science','01','2024-11','scale_score','1413','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(44,34,2,'TX State Assessment Reading','Reading','01','2024-02','scale_score','1774','Basic','Basic');
INSERT INTO "assessments" VALUES(45,35,0,'TX State Assessment Mathematics','Mathematics','01','2024-03','scale_score','1518','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(46,35,1,'TX State Assessment Mathematics','Mathematics','01','2024-06','scale_score','1785','Basic','Basic');
INSERT INTO "assessments" VALUES(47,35,2,'TX State Assessment Mathematics','Mathematics','01','2025-04','scale_score','1211','Far Below Basic','Far Below Basic');
INSERT INTO "assessments" VALUES(48,38,0,'TX State Assessment Reading','Reading','01','2024-09','scale_score','1213','Below Basic','Below Basic');
INSERT INTO "assessments" VALUES(49,39,0,'TX State Assessment Reading','Reading','01','2024-08','scale_score','1536','Proficient','Proficient');
INSERT INTO "assessments" VALUES(50,40,0,'TX State Assessment Reading','Reading','01','2025-03','scale_score','1326','Basic','Basic');
CREATE TABLE courses (
  id INTEGER PRIMARY KEY,
  enrollment_row INTEGER NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  "course_title" TEXT,
  "subject_area" TEXT,
  "course_type" TEXT,
  "state_course_code" TEXT,
  "begin_academic_year" INTEGER,
  "end_academic_year" INTEGER,
  "course_section" TEXT,
  "term_type" TEXT,
  "clock_hours" INTEGER,
  "grade_to_date" TEXT,
  "credits_attempted" REAL,
  "credits_granted" REAL,
  "final_grade" TEXT,
  "course_status" TEXT);
INSERT INTO "courses" VALUES(1,18,0,'Agricultural Science','Career and Technical','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'B-','completed');
INSERT INTO "courses" VALUES(2,18,1,'Art I','Fine Arts','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'B+','completed');
INSERT INTO "courses" VALUES(3,18,2,'Physical Education','Physical Education','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'C','completed');
INSERT INTO "courses" VALUES(4,19,0,'Algebra I','Mathematics','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'C+','completed');
INSERT INTO "courses" VALUES(5,19,1,'Spanish I','World Languages','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'B','completed');
INSERT INTO "courses" VALUES(6,19,2,'Art I','Fine Arts','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'C+','completed');
INSERT INTO "courses" VALUES(7,19,3,'English I','English Language Arts','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'B-','completed');
INSERT INTO "courses" VALUES(8,19,4,'U.S. History','Social Studies','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'C-','completed');
INSERT INTO "courses" VALUES(9,28,0,'Agricultural Science','Career and Technical','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'C','completed');
INSERT INTO "courses" VALUES(10,28,1,'Spanish I','World Languages','regular',NULL,2023,2024,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(11,28,2,'U.S. History','Social Studies','regular',NULL,2023,2024,'full_year','full_year',NULL,NULL,1.0,1.0,'C','completed');
INSERT INTO "courses" VALUES(12,28,3,'Physical Education','Physical Education','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'A','completed');
INSERT INTO "courses" VALUES(13,30,0,'Biology','Science','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(14,30,1,'World History','Social Studies','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'C','completed');
INSERT INTO "courses" VALUES(15,30,2,'Chemistry','Science','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'D','completed');
INSERT INTO "courses" VALUES(16,30,3,'Algebra I','Mathematics','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(17,30,4,'Agricultural Science','Career and Technical','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'A','completed');
INSERT INTO "courses" VALUES(18,30,5,'English I','English Language Arts','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'A','completed');
INSERT INTO "courses" VALUES(19,31,0,'Art I','Fine Arts','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.0,'F','completed');
INSERT INTO "courses" VALUES(20,31,1,'Physical Education','Physical Education','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'B-','completed');
INSERT INTO "courses" VALUES(21,31,2,'Algebra II','Mathematics','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'A-','completed');
INSERT INTO "courses" VALUES(22,31,3,'Algebra I','Mathematics','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'A','completed');
INSERT INTO "courses" VALUES(23,31,4,'English II','English Language Arts','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'B-','completed');
INSERT INTO "courses" VALUES(24,31,5,'English I','English Language Arts','regular',NULL,2023,2024,'full_year','full_year',NULL,NULL,1.0,1.0,'B+','completed');
INSERT INTO "courses" VALUES(25,32,0,'Chemistry','Science','regular',NULL,2024,2025,'full_year','full_year',NULL,NULL,1.0,1.0,'D','completed');
INSERT INTO "courses" VALUES(26,32,1,'Algebra I','Mathematics','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.0,'F','completed');
INSERT INTO "courses" VALUES(27,32,2,'U.S. History','Social Studies','regular',NULL,2024,2025,'section_a','semester',45,'C-',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(28,32,3,'Agricultural Science','Career and Technical','regular',NULL,2024,2025,'section_a','semester',23,'A-',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(29,32,4,'English II','English Language Arts','regular',NULL,2024,2025,'section_a','semester',84,'B+',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(30,32,5,'Spanish I','World Languages','regular',NULL,2024,2025,'section_a','semester',51,'A-',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(31,33,0,'Chemistry','Science','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'D','completed');
INSERT INTO "courses" VALUES(32,33,1,'English I','English Language Arts','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'B+','completed');
INSERT INTO "courses" VALUES(33,33,2,'Spanish I','World Languages','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'B+','completed');
INSERT INTO "courses" VALUES(34,33,3,'Algebra II','Mathematics','regular',NULL,2023,2024,'full_year','full_year',NULL,NULL,1.0,1.0,'A-','completed');
INSERT INTO "courses" VALUES(35,35,0,'Algebra I','Mathematics','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.0,'F','completed');
INSERT INTO "courses" VALUES(36,35,1,'Agricultural Science','Career and Technical','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'C+','completed');
INSERT INTO "courses" VALUES(37,35,2,'World History','Social Studies','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'C-','completed');
INSERT INTO "courses" VALUES(38,36,0,'World History','Social Studies','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'C+','completed');
INSERT INTO "courses" VALUES(39,36,1,'Physical Education','Physical Education','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'D','completed');
INSERT INTO "courses" VALUES(40,36,2,'U.S. History','Social Studies','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'D','completed');
INSERT INTO "courses" VALUES(41,36,3,'Art I','Fine Arts','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'B','completed');
INSERT INTO "courses" VALUES(42,36,4,'Geometry','Mathematics','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'C-','completed');
INSERT INTO "courses" VALUES(43,36,5,'English I','English Language Arts','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'C','completed');
INSERT INTO "courses" VALUES(44,37,0,'World History','Social Studies','regular',NULL,2022,2023,'section_a','semester',NULL,NULL,0.5,0.5,'B','completed');
INSERT INTO "courses" VALUES(45,37,1,'Spanish I','World Languages','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(46,37,2,'English II','English Language Arts','regular',NULL,2022,2023,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(47,38,0,'Biology','Science','regular',NULL,2024,2025,'section_a','semester',79,'C',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(48,38,1,'Agricultural Science','Career and Technical','regular',NULL,2024,2025,'section_a','semester',41,'C+',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(49,38,2,'English I','English Language Arts','regular',NULL,2024,2025,'section_a','semester',27,'C+',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(50,38,3,'Spanish I','World Languages','regular',NULL,2024,2025,'section_a','semester',53,'C-',0.5,NULL,NULL,'in_progress');
INSERT INTO "courses" VALUES(51,38,4,'Art I','Fine Arts','regular',NULL,2024,2025,'full_year','full_year',NULL,NULL,1.0,1.0,'A','completed');
INSERT INTO "courses" VALUES(52,47,0,'Art I','Fine Arts','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'C-','completed');
INSERT INTO "courses" VALUES(53,47,1,'Chemistry','Science','regular',NULL,2023,2024,'section_a','semester',NULL,NULL,0.5,0.5,'A','completed');
INSERT INTO "courses" VALUES(54,54,0,'Algebra I','Mathematics','regular',NULL,2024,2025,'section_a','semester',NULL,NULL,0.5,0.5,'D','completed');
INSERT INTO "courses" VALUES(55,54,1,'Geometry','Mathematics','regular',NULL,2024,2025,'full_year','full_year',NULL,NULL,1.0,1.0,'C','completed');
CREATE TABLE enrollments (
  id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  "enrollment_id" TEXT,
  "enrollment_date" TEXT,
  "withdrawal_date" TEXT,
  "enrollment_type" TEXT,
  "school_or_project_name" TEXT,
  "mep_project_type" TEXT,
  "school_nces_id" TEXT,
  "district_nces_id" TEXT,
  "district_name" TEXT,
  "facility_name" TEXT,
  "facility_address" TEXT,
  "facility_city" TEXT,
  "facility_state" TEXT,
  "facility_zip" TEXT,
  "facility_phone" TEXT,
  "grade_level" TEXT,
  "english_learner" INTEGER,
  "idea_indicator" INTEGER,
  "medical_alert" TEXT,
  "priority_for_services" INTEGER,
  "immunization_record_flag" INTEGER,
  "district_of_residence" TEXT,
  "residency_date" TEXT,
  "residency_verification_date" TEXT,
  "designated_graduation_school" TEXT,
  "graduation_hse_indicator" TEXT,
  "graduation_hse_date" TEXT,
  "out_of_state_transcript" INTEGER,
  "continuation_of_services_reason" TEXT,
  "algebra1_or_equivalent" INTEGER,
  "enrollment_comment" TEXT,
  UNIQUE (student_id, enrollment_id));
INSERT INTO "enrollments" VALUES(1,1,0,'E1','2025-01-21',NULL,'residency_only','Sam Houston Middle School',NULL,'480773138767','4807731','Del Rio ISD',NULL,NULL,'Del Rio','TX','53961',NULL,'08',0,1,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(2,2,0,'E1','2024-03-19','2024-06-05','basic_school','Riverside Elementary School',NULL,'484757463843','4847574','Laredo ISD',NULL,NULL,'Laredo','TX','52687',NULL,'04',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(3,3,0,'E1','2023-06-20','2024-03-25','residency_only','Sam Houston Elementary School',NULL,'480265301041','4802653','Laredo ISD',NULL,NULL,'Laredo','TX','75358',NULL,'02',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(4,3,1,'E2','2022-06-11','2022-08-21','summer_mep','Lincoln Elementary School',NULL,'481751032899','4817510','Brownsville ISD',NULL,NULL,'Brownsville','TX','43822',NULL,'01',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(5,4,0,'E1','2024-09-23','2025-04-29','residency_only','Riverside Elementary School',NULL,'483118599425','4831185','Mission ISD',NULL,NULL,'Mission','TX','38696',NULL,'01',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(6,4,1,'E2','2023-11-26','2024-02-10','residency_only','Riverside Elementary School',NULL,'482081699991','4820816','McAllen ISD',NULL,NULL,'McAllen','TX','85468',NULL,'KG',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(7,5,0,'E1','2024-04-01','2024-11-08','basic_school','Oak Grove Elementary School',NULL,'483779662114','4837796','Pharr ISD',NULL,NULL,'Pharr','TX','67354',NULL,'04',1,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(8,5,1,'E2','2023-08-16','2023-11-06','residency_only','Sam Houston Elementary School',NULL,'486215203117','4862152','Pharr ISD',NULL,NULL,'Pharr','TX','85942',NULL,'04',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(9,6,0,'E1','2023-03-14','2023-05-15','basic_school','Sam Houston Elementary School',NULL,'480265301041','4802653','Laredo ISD',NULL,NULL,'Laredo','TX','75358',NULL,'03',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(10,7,0,'E1','2024-03-05','2024-09-06','basic_school','Riverside Elementary School',NULL,'483118599425','4831185','Mission ISD',NULL,NULL,'Mission','TX','38696',NULL,'02',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(11,7,1,'E2','2023-02-22','2023-11-01','basic_school','Mesa Verde Elementary School',NULL,'480321251849','4803212','Del Rio ISD',NULL,NULL,'Del Rio','TX','47918',NULL,'01',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(12,8,0,'E1','2024-11-22','2025-04-21','basic_school','Sam Houston Elementary School',NULL,'480265301041','4802653','Laredo ISD',NULL,NULL,'Laredo','TX','75358',NULL,'PK',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(13,8,1,'E2','2024-03-26','2024-11-29','residency_only','Washington Elementary School',NULL,'485722988306','4857229','San Juan ISD',NULL,NULL,'San Juan','TX','13726',NULL,'PK',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(14,8,2,'E3','2023-04-30','2023-11-26','basic_school','Sunrise Elementary School',NULL,'482674473972','4826744','Pharr ISD',NULL,NULL,'Pharr','TX','20220',NULL,'PK',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(15,10,0,'E1','2023-04-23','2023-08-20','basic_school','Sunrise Elementary School',NULL,'488681750514','4886817','Harlingen ISD',NULL,NULL,'Harlingen','TX','21978',NULL,'KG',0,1,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(16,10,1,'E2','2022-07-13','2023-01-28','basic_school','Jefferson Elementary School',NULL,'487832783324','4878327','Mission ISD',NULL,NULL,'Mission','TX','27139',NULL,'PK',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(17,10,2,'E3','2021-08-21','2022-01-03','basic_school','Sunrise Elementary School',NULL,'482674473972','4826744','Pharr ISD',NULL,NULL,'Pharr','TX','20220',NULL,'PK',1,0,'none',1,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(18,11,0,'E1','2023-03-05','2023-06-30','summer_mep','Washington High School',NULL,'485722988306','4857229','San Juan ISD',NULL,NULL,'San Juan','TX','13726',NULL,'12',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(19,12,0,'E1','2024-09-13','2024-11-13','basic_school','Riverside High School',NULL,'489275407200','4892754','Del Rio ISD',NULL,NULL,'Del Rio','TX','53793',NULL,'11',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(20,13,0,'E1','2023-11-09','2024-04-29','summer_mep','Dolores Huerta Middle School',NULL,'483098586022','4830985','McAllen ISD',NULL,NULL,'McAllen','TX','80352',NULL,'08',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(21,13,1,'E2','2022-12-24','2023-04-15','summer_mep','Sam Houston Middle School',NULL,'480265301041','4802653','Laredo ISD',NULL,NULL,'Laredo','TX','75358',NULL,'07',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(22,14,0,'E1','2024-06-27','2024-11-30','basic_school','Oak Grove Middle School',NULL,'482152224622','4821522','Del Rio ISD',NULL,NULL,'Del Rio','TX','83891',NULL,'07',1,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(23,15,0,'E1','2024-10-09','2025-06-18','basic_school','Oak Grove Elementary School',NULL,'483779662114','4837796','Pharr ISD',NULL,NULL,'Pharr','TX','67354',NULL,'02',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(24,15,1,'E2','2024-01-13','2024-06-02','summer_mep','Sunrise Elementary School',NULL,'488681750514','4886817','Harlingen ISD',NULL,NULL,'Harlingen','TX','21978',NULL,'02',1,1,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(25,16,0,'E1','2024-07-21','2025-04-23','basic_school','Roosevelt Elementary School',NULL,'488572933764','4885729','Edinburg ISD',NULL,NULL,'Edinburg','TX','97647',NULL,'KG',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(26,16,1,'E2','2023-06-21','2023-11-17','summer_mep','Riverside Elementary School',NULL,'485895351820','4858953','Edinburg ISD',NULL,NULL,'Edinburg','TX','92605',NULL,'PK',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(27,16,2,'E3','2022-08-21','2023-01-05','basic_school','Sam Houston Elementary School',NULL,'489221538567','4892215','San Juan ISD',NULL,NULL,'San Juan','TX','38460',NULL,'PK',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(28,18,0,'E1','2024-01-20','2024-03-25','residency_only','Sunrise High School',NULL,'488960564487','4889605','Pharr ISD',NULL,NULL,'Pharr','TX','55413',NULL,'OS',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(29,18,1,'E2','2023-05-16','2023-11-22','summer_mep','Oak Grove High School',NULL,'483752554268','4837525','San Juan ISD',NULL,NULL,'San Juan','TX','20393',NULL,'13',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(30,19,0,'E1','2023-02-19','2023-11-01','basic_school','Riverside High School',NULL,'482081699991','4820816','McAllen ISD',NULL,NULL,'McAllen','TX','85468',NULL,'12',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(31,20,0,'E1','2024-01-16','2024-05-09','basic_school','Lincoln High School',NULL,'482886071252','4828860','Brownsville ISD',NULL,NULL,'Brownsville','TX','67399',NULL,'10',0,0,'chronic',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(32,21,0,'E1','2024-12-27',NULL,'basic_school','Riverside High School',NULL,'484757463843','4847574','Laredo ISD',NULL,NULL,'Laredo','TX','52687',NULL,'10',0,0,'none',1,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(33,21,1,'E2','2024-02-01','2024-08-17','basic_school','Lincoln High School',NULL,'482886071252','4828860','Brownsville ISD',NULL,NULL,'Brownsville','TX','67399',NULL,'09',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(34,22,0,'E1','2024-07-09','2025-02-22','basic_school','Mesa Verde High School',NULL,'480321251849','4803212','Del Rio ISD',NULL,NULL,'Del Rio','TX','47918',NULL,'13',0,0,'none',1,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(35,23,0,'E1','2024-03-30','2024-11-10','basic_school','Sam Houston High School',NULL,'480265301041','4802653','Laredo ISD',NULL,NULL,'Laredo','TX','75358',NULL,'10',1,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(36,23,1,'E2','2023-03-21','2023-07-22','basic_school','Sam Houston High School',NULL,'480773138767','4807731','Del Rio ISD',NULL,NULL,'Del Rio','TX','53961',NULL,'09',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(37,24,0,'E1','2023-04-18','2023-11-11','residency_only','Sam Houston High School',NULL,'489221538567','4892215','San Juan ISD',NULL,NULL,'San Juan','TX','38460',NULL,'09',0,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(38,25,0,'E1','2025-06-21',NULL,'basic_school','Washington High School',NULL,'485722988306','4857229','San Juan ISD',NULL,NULL,'San Juan','TX','13726',NULL,'10',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(39,26,0,'E1','2023-06-26','2024-01-21','residency_only','Oak Grove Middle School',NULL,'481615728491','4816157','Harlingen ISD',NULL,NULL,'Harlingen','TX','59601',NULL,'08',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(40,26,1,'E2','2022-08-20','2023-03-18','basic_school','Mesa Verde Middle School',NULL,'486930424664','4869304','Laredo ISD',NULL,NULL,'Laredo','TX','74426',NULL,'07',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(41,27,0,'E1','2024-02-19','2024-10-17','residency_only','Sunrise Middle School',NULL,'482674473972','4826744','Pharr ISD',NULL,NULL,'Pharr','TX','20220',NULL,'07',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(42,28,0,'E1','2024-11-05','2025-02-28','residency_only','Lincoln Elementary School',NULL,'482886071252','4828860','Brownsville ISD',NULL,NULL,'Brownsville','TX','67399',NULL,'05',0,1,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(43,28,1,'E2','2024-03-17','2024-08-05','basic_school','Washington Elementary School',NULL,'485722988306','4857229','San Juan ISD',NULL,NULL,'San Juan','TX','13726',NULL,'04',1,1,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(44,29,0,'E1','2023-06-05','2023-10-20','basic_school','Sunrise Middle School',NULL,'482963239332','4829632','McAllen ISD',NULL,NULL,'McAllen','TX','73212',NULL,'08',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(45,29,1,'E2','2022-06-16','2023-01-25','basic_school','Riverside Middle School',NULL,'485895351820','4858953','Edinburg ISD',NULL,NULL,'Edinburg','TX','92605',NULL,'07',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(46,29,2,'E3','2021-11-20','2022-06-25','basic_school','Mesa Verde Middle School',NULL,'480321251849','4803212','Del Rio ISD',NULL,NULL,'Del Rio','TX','47918',NULL,'07',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(47,30,0,'E1','2024-07-08','2024-11-23','basic_school','Mesa Verde High School',NULL,'486930424664','4869304','Laredo ISD',NULL,NULL,'Laredo','TX','74426',NULL,'11',1,1,'none',1,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(48,31,0,'E1','2024-06-18','2024-12-14','residency_only','Valley View Middle School',NULL,'487359207936','4873592','Pharr ISD',NULL,NULL,'Pharr','TX','89851',NULL,'08',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(49,32,0,'E1','2023-10-21','2024-03-16','residency_only','Oak Grove Elementary School',NULL,'483779662114','4837796','Pharr ISD',NULL,NULL,'Pharr','TX','67354',NULL,'01',0,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(50,32,1,'E2','2023-04-01','2023-08-17','basic_school','Dolores Huerta Elementary School',NULL,'481231138721','4812311','Laredo ISD',NULL,NULL,'Laredo','TX','66426',NULL,'KG',0,1,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(51,33,0,'E1','2024-01-24','2024-07-05','basic_school','Dolores Huerta Elementary School',NULL,'483098586022','4830985','McAllen ISD',NULL,NULL,'McAllen','TX','80352',NULL,'KG',0,0,'none',1,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(52,33,1,'E2','2023-04-03','2023-10-16','residency_only','Kennedy Elementary School',NULL,'485257181612','4852571','Laredo ISD',NULL,NULL,'Laredo','TX','38512',NULL,'KG',1,0,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(53,33,2,'E3','2022-02-28','2022-10-13','basic_school','Sam Houston Elementary School',NULL,'486215203117','4862152','Pharr ISD',NULL,NULL,'Pharr','TX','85942',NULL,'PK',1,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(54,34,0,'E1','2025-01-07','2025-06-18','basic_school','Riverside High School',NULL,'485895351820','4858953','Edinburg ISD',NULL,NULL,'Edinburg','TX','92605',NULL,'12',0,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(55,35,0,'E1','2023-04-30','2023-07-10','basic_school','Dolores Huerta Elementary School',NULL,'481231138721','4812311','Laredo ISD',NULL,NULL,'Laredo','TX','66426',NULL,'01',1,1,'none',1,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(56,35,1,'E2','2022-06-19','2022-11-16','basic_school','Sam Houston Elementary School',NULL,'489221538567','4892215','San Juan ISD',NULL,NULL,'San Juan','TX','38460',NULL,'KG',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(57,35,2,'E3','2021-06-20','2022-03-09','basic_school','Sam Houston Elementary School',NULL,'489540009168','4895400','Laredo ISD',NULL,NULL,'Laredo','TX','19215',NULL,'PK',1,1,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(58,36,0,'E1','2024-07-31','2024-11-07','summer_mep','Sam Houston Elementary School',NULL,'489540009168','4895400','Laredo ISD',NULL,NULL,'Laredo','TX','19215',NULL,'KG',0,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(59,37,0,'E1','2024-07-04','2024-10-29','basic_school','Roosevelt Elementary School',NULL,'485799509099','4857995','Pharr ISD',NULL,NULL,'Pharr','TX','33119',NULL,'PK',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(60,38,0,'E1','2023-05-18','2023-11-28','summer_mep','Sam Houston Middle School',NULL,'489540009168','4895400','Laredo ISD',NULL,NULL,'Laredo','TX','19215',NULL,'08',0,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(61,39,0,'E1','2024-01-25','2024-08-14','basic_school','César Chávez Middle School',NULL,'481728177589','4817281','Brownsville ISD',NULL,NULL,'Brownsville','TX','58071',NULL,'06',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(62,39,1,'E2','2023-03-25','2023-11-29','residency_only','Dolores Huerta Middle School',NULL,'483098586022','4830985','McAllen ISD',NULL,NULL,'McAllen','TX','80352',NULL,'06',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(63,39,2,'E3','2022-08-04','2022-12-09','basic_school','Riverside Elementary School',NULL,'484757463843','4847574','Laredo ISD',NULL,NULL,'Laredo','TX','52687',NULL,'05',1,1,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(64,40,0,'E1','2023-03-27','2023-10-07','basic_school','Oak Grove Elementary School',NULL,'483779662114','4837796','Pharr ISD',NULL,NULL,'Pharr','TX','67354',NULL,'05',0,0,'none',0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "enrollments" VALUES(65,40,1,'E2','2022-05-13','2023-02-08','basic_school','Sunrise Elementary School',NULL,'488681750514','4886817','Harlingen ISD',NULL,NULL,'Harlingen','TX','21978',NULL,'04',1,0,'none',0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE find_matches (
  find_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  handle TEXT NOT NULL,
  score INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (find_id, peer, handle));
CREATE TABLE import_rejects (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES import_runs(id) ON DELETE CASCADE,
  file TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE import_runs (
  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
  files TEXT NOT NULL, students INTEGER NOT NULL, inserted INTEGER NOT NULL,
  updated INTEGER NOT NULL, unchanged INTEGER NOT NULL, rejected INTEGER NOT NULL);
CREATE TABLE inbox (
  id INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  body_hash BLOB NOT NULL,
  notice TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'new',
  UNIQUE (sender, message_id));
CREATE TABLE link_events (
  id INTEGER PRIMARY KEY,
  link_id INTEGER,
  worklist_id INTEGER,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '');
CREATE TABLE link_inbox (
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  body_hash BLOB NOT NULL,
  note TEXT NOT NULL,
  link_id INTEGER,
  PRIMARY KEY (sender, message_id));
CREATE TABLE links (
  id INTEGER PRIMARY KEY,
  direction TEXT NOT NULL,
  status TEXT NOT NULL,
  peer TEXT NOT NULL,
  peer_record TEXT NOT NULL,
  ref TEXT NOT NULL,
  local_record TEXT,
  anchor_peer TEXT,
  anchor_record TEXT,
  worklist_id INTEGER,
  asserted_by TEXT NOT NULL,
  comment TEXT,
  created_ms INTEGER NOT NULL,
  validated_by TEXT,
  validated_ms INTEGER,
  ended_by TEXT,
  ended_ms INTEGER,
  reason TEXT);
CREATE TABLE "login_addresses" (
   "key" TEXT PRIMARY KEY,
   "last_success_at" REAL NOT NULL
);
CREATE TABLE "login_failures" (
   "key" TEXT PRIMARY KEY,
   "failures" INTEGER NOT NULL,
   "last_failure_at" REAL,
   "locked_until" REAL
);
CREATE TABLE match_keys (
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  key TEXT NOT NULL);
INSERT INTO "match_keys" VALUES(1,'d:2011-10-29');
INSERT INTO "match_keys" VALUES(1,'s:gms:2011');
INSERT INTO "match_keys" VALUES(1,'n:gms:Jsf');
INSERT INTO "match_keys" VALUES(1,'s:gtrs:2011');
INSERT INTO "match_keys" VALUES(1,'n:gtrs:Jsf');
INSERT INTO "match_keys" VALUES(1,'g:Jsf:1029');
INSERT INTO "match_keys" VALUES(1,'m:gtrs:2011');
INSERT INTO "match_keys" VALUES(1,'i:TX2258680730');
INSERT INTO "match_keys" VALUES(2,'d:2014-07-21');
INSERT INTO "match_keys" VALUES(2,'s:gms:2014');
INSERT INTO "match_keys" VALUES(2,'n:gms:Wlfrd');
INSERT INTO "match_keys" VALUES(2,'n:gms:gbrl');
INSERT INTO "match_keys" VALUES(2,'s:gtrs:2014');
INSERT INTO "match_keys" VALUES(2,'n:gtrs:Wlfrd');
INSERT INTO "match_keys" VALUES(2,'n:gtrs:gbrl');
INSERT INTO "match_keys" VALUES(2,'g:Wlfrd:0721');
INSERT INTO "match_keys" VALUES(2,'g:gbrl:0721');
INSERT INTO "match_keys" VALUES(2,'m:gtrs:2014');
INSERT INTO "match_keys" VALUES(2,'i:TX4712831158');
INSERT INTO "match_keys" VALUES(3,'d:2016-03-17');
INSERT INTO "match_keys" VALUES(3,'s:lbrn:2016');
INSERT INTO "match_keys" VALUES(3,'n:lbrn:sl');
INSERT INTO "match_keys" VALUES(3,'s:snCs:2016');
INSERT INTO "match_keys" VALUES(3,'n:snCs:sl');
INSERT INTO "match_keys" VALUES(3,'g:sl:0317');
INSERT INTO "match_keys" VALUES(3,'m:snCs:2016');
INSERT INTO "match_keys" VALUES(3,'i:TX1903530603');
INSERT INTO "match_keys" VALUES(4,'d:2018-03-08');
INSERT INTO "match_keys" VALUES(4,'d:2018-08-03');
INSERT INTO "match_keys" VALUES(4,'s:lbrn:2018');
INSERT INTO "match_keys" VALUES(4,'n:lbrn:AlJndr');
INSERT INTO "match_keys" VALUES(4,'s:snCs:2018');
INSERT INTO "match_keys" VALUES(4,'n:snCs:AlJndr');
INSERT INTO "match_keys" VALUES(4,'g:AlJndr:0308');
INSERT INTO "match_keys" VALUES(4,'g:AlJndr:0803');
INSERT INTO "match_keys" VALUES(4,'m:snCs:2018');
INSERT INTO "match_keys" VALUES(4,'i:TX3296370066');
INSERT INTO "match_keys" VALUES(5,'d:2014-04-05');
INSERT INTO "match_keys" VALUES(5,'d:2014-05-04');
INSERT INTO "match_keys" VALUES(5,'s:Arsk:2014');
INSERT INTO "match_keys" VALUES(5,'n:Arsk:sf');
INSERT INTO "match_keys" VALUES(5,'s:snCs:2014');
INSERT INTO "match_keys" VALUES(5,'n:snCs:sf');
INSERT INTO "match_keys" VALUES(5,'g:sf:0405');
INSERT INTO "match_keys" VALUES(5,'g:sf:0504');
INSERT INTO "match_keys" VALUES(5,'m:snCs:2014');
INSERT INTO "match_keys" VALUES(5,'i:TX6764778457');
INSERT INTO "match_keys" VALUES(6,'d:2014-04-05');
INSERT INTO "match_keys" VALUES(6,'d:2014-05-04');
INSERT INTO "match_keys" VALUES(6,'s:Arsk:2014');
INSERT INTO "match_keys" VALUES(6,'n:Arsk:frnsk');
INSERT INTO "match_keys" VALUES(6,'n:Arsk:Anr');
INSERT INTO "match_keys" VALUES(6,'s:snCs:2014');
INSERT INTO "match_keys" VALUES(6,'n:snCs:frnsk');
INSERT INTO "match_keys" VALUES(6,'n:snCs:Anr');
INSERT INTO "match_keys" VALUES(6,'g:frnsk:0405');
INSERT INTO "match_keys" VALUES(6,'g:Anr:0405');
INSERT INTO "match_keys" VALUES(6,'g:frnsk:0504');
INSERT INTO "match_keys" VALUES(6,'m:snCs:2014');
INSERT INTO "match_keys" VALUES(6,'i:TX9455272605');
INSERT INTO "match_keys" VALUES(7,'d:2016-09-11');
INSERT INTO "match_keys" VALUES(7,'d:2016-11-09');
INSERT INTO "match_keys" VALUES(7,'s:Arsk:2016');
INSERT INTO "match_keys" VALUES(7,'n:Arsk:Jbr');
INSERT INTO "match_keys" VALUES(7,'s:snCs:2016');
INSERT INTO "match_keys" VALUES(7,'n:snCs:Jbr');
INSERT INTO "match_keys" VALUES(7,'g:Jbr:0911');
INSERT INTO "match_keys" VALUES(7,'g:Jbr:1109');
INSERT INTO "match_keys" VALUES(7,'m:snCs:2016');
INSERT INTO "match_keys" VALUES(7,'i:TX2526288390');
INSERT INTO "match_keys" VALUES(8,'d:2020-02-23');
INSERT INTO "match_keys" VALUES(8,'s:mrs:2020');
INSERT INTO "match_keys" VALUES(8,'n:mrs:Adrn');
INSERT INTO "match_keys" VALUES(8,'s:rln:2020');
INSERT INTO "match_keys" VALUES(8,'n:rln:Adrn');
INSERT INTO "match_keys" VALUES(8,'g:Adrn:0223');
INSERT INTO "match_keys" VALUES(8,'m:rln:2020');
INSERT INTO "match_keys" VALUES(8,'i:TX3411961662');
INSERT INTO "match_keys" VALUES(9,'d:2022-07-16');
INSERT INTO "match_keys" VALUES(9,'s:mrs:2022');
INSERT INTO "match_keys" VALUES(9,'n:mrs:JrJ');
INSERT INTO "match_keys" VALUES(9,'s:rln:2022');
INSERT INTO "match_keys" VALUES(9,'n:rln:JrJ');
INSERT INTO "match_keys" VALUES(9,'g:JrJ:0716');
INSERT INTO "match_keys" VALUES(9,'m:rln:2022');
INSERT INTO "match_keys" VALUES(9,'i:TX4316057622');
INSERT INTO "match_keys" VALUES(10,'d:2018-03-30');
INSERT INTO "match_keys" VALUES(10,'s:gdns:2018');
INSERT INTO "match_keys" VALUES(10,'n:gdns:rbk');
INSERT INTO "match_keys" VALUES(10,'s:mnts:2018');
INSERT INTO "match_keys" VALUES(10,'n:mnts:rbk');
INSERT INTO "match_keys" VALUES(10,'g:rbk:0330');
INSERT INTO "match_keys" VALUES(10,'m:mnts:2018');
INSERT INTO "match_keys" VALUES(10,'i:TX2019531562');
INSERT INTO "match_keys" VALUES(11,'d:2005-08-21');
INSERT INTO "match_keys" VALUES(11,'s:Jmns:2005');
INSERT INTO "match_keys" VALUES(11,'n:Jmns:mgl');
INSERT INTO "match_keys" VALUES(11,'s:krs:2005');
INSERT INTO "match_keys" VALUES(11,'n:krs:mgl');
INSERT INTO "match_keys" VALUES(11,'g:mgl:0821');
INSERT INTO "match_keys" VALUES(11,'m:krs:2005');
INSERT INTO "match_keys" VALUES(11,'i:TX3495096562');
INSERT INTO "match_keys" VALUES(12,'d:2007-11-07');
INSERT INTO "match_keys" VALUES(12,'d:2007-07-11');
INSERT INTO "match_keys" VALUES(12,'s:Jmns:2007');
INSERT INTO "match_keys" VALUES(12,'n:Jmns:Cyn');
INSERT INTO "match_keys" VALUES(12,'n:Jmns:krtn');
INSERT INTO "match_keys" VALUES(12,'s:krs:2007');
INSERT INTO "match_keys" VALUES(12,'n:krs:Cyn');
INSERT INTO "match_keys" VALUES(12,'n:krs:krtn');
INSERT INTO "match_keys" VALUES(12,'g:Cyn:1107');
INSERT INTO "match_keys" VALUES(12,'g:krtn:1107');
INSERT INTO "match_keys" VALUES(12,'g:Cyn:0711');
INSERT INTO "match_keys" VALUES(12,'m:krs:2007');
INSERT INTO "match_keys" VALUES(12,'i:TX3435266477');
INSERT INTO "match_keys" VALUES(13,'d:2010-06-18');
INSERT INTO "match_keys" VALUES(13,'s:Jmns:2010');
INSERT INTO "match_keys" VALUES(13,'n:Jmns:mgl');
INSERT INTO "match_keys" VALUES(13,'n:Jmns:Jfr');
INSERT INTO "match_keys" VALUES(13,'s:krs:2010');
INSERT INTO "match_keys" VALUES(13,'n:krs:mgl');
INSERT INTO "match_keys" VALUES(13,'n:krs:Jfr');
INSERT INTO "match_keys" VALUES(13,'g:mgl:0618');
INSERT INTO "match_keys" VALUES(13,'g:Jfr:0618');
INSERT INTO "match_keys" VALUES(13,'m:krs:2010');
INSERT INTO "match_keys" VALUES(13,'i:TX4310179815');
INSERT INTO "match_keys" VALUES(14,'d:2011-08-19');
INSERT INTO "match_keys" VALUES(14,'s:Jmns:2011');
INSERT INTO "match_keys" VALUES(14,'n:Jmns:AlJndr');
INSERT INTO "match_keys" VALUES(14,'s:krs:2011');
INSERT INTO "match_keys" VALUES(14,'n:krs:AlJndr');
INSERT INTO "match_keys" VALUES(14,'g:AlJndr:0819');
INSERT INTO "match_keys" VALUES(14,'m:krs:2011');
INSERT INTO "match_keys" VALUES(14,'i:TX3263878471');
INSERT INTO "match_keys" VALUES(15,'d:2016-12-19');
INSERT INTO "match_keys" VALUES(15,'s:bsks:2016');
INSERT INTO "match_keys" VALUES(15,'n:bsks:lts');
INSERT INTO "match_keys" VALUES(15,'n:bsks:mr');
INSERT INTO "match_keys" VALUES(15,'s:rk:2016');
INSERT INTO "match_keys" VALUES(15,'n:rk:lts');
INSERT INTO "match_keys" VALUES(15,'n:rk:mr');
INSERT INTO "match_keys" VALUES(15,'g:lts:1219');
INSERT INTO "match_keys" VALUES(15,'g:mr:1219');
INSERT INTO "match_keys" VALUES(15,'m:rk:2016');
INSERT INTO "match_keys" VALUES(15,'i:TX2011529094');
INSERT INTO "match_keys" VALUES(16,'d:2018-11-05');
INSERT INTO "match_keys" VALUES(16,'d:2018-05-11');
INSERT INTO "match_keys" VALUES(16,'s:bsks:2018');
INSERT INTO "match_keys" VALUES(16,'n:bsks:knspsn');
INSERT INTO "match_keys" VALUES(16,'s:rk:2018');
INSERT INTO "match_keys" VALUES(16,'n:rk:knspsn');
INSERT INTO "match_keys" VALUES(16,'g:knspsn:1105');
INSERT INTO "match_keys" VALUES(16,'g:knspsn:0511');
INSERT INTO "match_keys" VALUES(16,'m:rk:2018');
INSERT INTO "match_keys" VALUES(16,'i:TX1930516174');
INSERT INTO "match_keys" VALUES(17,'d:2020-04-16');
INSERT INTO "match_keys" VALUES(17,'s:bsks:2020');
INSERT INTO "match_keys" VALUES(17,'n:bsks:Jn');
INSERT INTO "match_keys" VALUES(17,'n:bsks:Amr');
INSERT INTO "match_keys" VALUES(17,'s:rk:2020');
INSERT INTO "match_keys" VALUES(17,'n:rk:Jn');
INSERT INTO "match_keys" VALUES(17,'n:rk:Amr');
INSERT INTO "match_keys" VALUES(17,'g:Jn:0416');
INSERT INTO "match_keys" VALUES(17,'g:Amr:0416');
INSERT INTO "match_keys" VALUES(17,'m:rk:2020');
INSERT INTO "match_keys" VALUES(17,'i:TX6334096002');
INSERT INTO "match_keys" VALUES(18,'d:2004-08-26');
INSERT INTO "match_keys" VALUES(18,'s:lps:2004');
INSERT INTO "match_keys" VALUES(18,'n:lps:Anbl');
INSERT INTO "match_keys" VALUES(18,'n:lps:Asnsn');
INSERT INTO "match_keys" VALUES(18,'s:pnd:2004');
INSERT INTO "match_keys" VALUES(18,'n:pnd:Anbl');
INSERT INTO "match_keys" VALUES(18,'n:pnd:Asnsn');
INSERT INTO "match_keys" VALUES(18,'g:Anbl:0826');
INSERT INTO "match_keys" VALUES(18,'g:Asnsn:0826');
INSERT INTO "match_keys" VALUES(18,'m:pnd:2004');
INSERT INTO "match_keys" VALUES(18,'i:TX6516869491');
INSERT INTO "match_keys" VALUES(19,'d:2005-10-19');
INSERT INTO "match_keys" VALUES(19,'s:ds:2005');
INSERT INTO "match_keys" VALUES(19,'n:ds:pbl');
INSERT INTO "match_keys" VALUES(19,'s:Ars:2005');
INSERT INTO "match_keys" VALUES(19,'n:Ars:pbl');
INSERT INTO "match_keys" VALUES(19,'g:pbl:1019');
INSERT INTO "match_keys" VALUES(19,'m:Ars:2005');
INSERT INTO "match_keys" VALUES(19,'i:TX7418618680');
INSERT INTO "match_keys" VALUES(20,'d:2008-06-15');
INSERT INTO "match_keys" VALUES(20,'s:ds:2008');
INSERT INTO "match_keys" VALUES(20,'n:ds:krls');
INSERT INTO "match_keys" VALUES(20,'s:Ars:2008');
INSERT INTO "match_keys" VALUES(20,'n:Ars:krls');
INSERT INTO "match_keys" VALUES(20,'g:krls:0615');
INSERT INTO "match_keys" VALUES(20,'m:Ars:2008');
INSERT INTO "match_keys" VALUES(20,'i:TX5124155966');
INSERT INTO "match_keys" VALUES(21,'d:2009-09-11');
INSERT INTO "match_keys" VALUES(21,'d:2009-11-09');
INSERT INTO "match_keys" VALUES(21,'s:ds:2009');
INSERT INTO "match_keys" VALUES(21,'n:ds:rk');
INSERT INTO "match_keys" VALUES(21,'s:Ars:2009');
INSERT INTO "match_keys" VALUES(21,'n:Ars:rk');
INSERT INTO "match_keys" VALUES(21,'g:rk:0911');
INSERT INTO "match_keys" VALUES(21,'g:rk:1109');
INSERT INTO "match_keys" VALUES(21,'m:Ars:2009');
INSERT INTO "match_keys" VALUES(21,'i:TX6542512818');
INSERT INTO "match_keys" VALUES(22,'d:2005-10-12');
INSERT INTO "match_keys" VALUES(22,'d:2005-12-10');
INSERT INTO "match_keys" VALUES(22,'s:snbr:2005');
INSERT INTO "match_keys" VALUES(22,'n:snbr:frd');
INSERT INTO "match_keys" VALUES(22,'s:ds:2005');
INSERT INTO "match_keys" VALUES(22,'n:ds:frd');
INSERT INTO "match_keys" VALUES(22,'g:frd:1012');
INSERT INTO "match_keys" VALUES(22,'g:frd:1210');
INSERT INTO "match_keys" VALUES(22,'m:ds:2005');
INSERT INTO "match_keys" VALUES(22,'i:TX7524211753');
INSERT INTO "match_keys" VALUES(23,'d:2008-07-19');
INSERT INTO "match_keys" VALUES(23,'s:snbr:2008');
INSERT INTO "match_keys" VALUES(23,'n:snbr:knsl');
INSERT INTO "match_keys" VALUES(23,'s:ds:2008');
INSERT INTO "match_keys" VALUES(23,'n:ds:knsl');
INSERT INTO "match_keys" VALUES(23,'g:knsl:0719');
INSERT INTO "match_keys" VALUES(23,'m:ds:2008');
INSERT INTO "match_keys" VALUES(23,'i:TX8376143489');
INSERT INTO "match_keys" VALUES(24,'d:2008-11-09');
INSERT INTO "match_keys" VALUES(24,'d:2008-09-11');
INSERT INTO "match_keys" VALUES(24,'s:Js:2008');
INSERT INTO "match_keys" VALUES(24,'n:Js:dlrs');
INSERT INTO "match_keys" VALUES(24,'n:Js:yrd');
INSERT INTO "match_keys" VALUES(24,'s:rmrs:2008');
INSERT INTO "match_keys" VALUES(24,'n:rmrs:dlrs');
INSERT INTO "match_keys" VALUES(24,'n:rmrs:yrd');
INSERT INTO "match_keys" VALUES(24,'g:dlrs:1109');
INSERT INTO "match_keys" VALUES(24,'g:yrd:1109');
INSERT INTO "match_keys" VALUES(24,'g:dlrs:0911');
INSERT INTO "match_keys" VALUES(24,'m:rmrs:2008');
INSERT INTO "match_keys" VALUES(24,'i:TX7995785722');
INSERT INTO "match_keys" VALUES(25,'d:2010-03-25');
INSERT INTO "match_keys" VALUES(25,'s:Js:2010');
INSERT INTO "match_keys" VALUES(25,'n:Js:Jsf');
INSERT INTO "match_keys" VALUES(25,'n:Js:krls');
INSERT INTO "match_keys" VALUES(25,'s:rmrs:2010');
INSERT INTO "match_keys" VALUES(25,'n:rmrs:Jsf');
INSERT INTO "match_keys" VALUES(25,'n:rmrs:krls');
INSERT INTO "match_keys" VALUES(25,'g:Jsf:0325');
INSERT INTO "match_keys" VALUES(25,'g:krls:0325');
INSERT INTO "match_keys" VALUES(25,'m:rmrs:2010');
INSERT INTO "match_keys" VALUES(25,'i:TX3045223547');
INSERT INTO "match_keys" VALUES(26,'d:2010-03-25');
INSERT INTO "match_keys" VALUES(26,'s:Js:2010');
INSERT INTO "match_keys" VALUES(26,'n:Js:mr');
INSERT INTO "match_keys" VALUES(26,'n:Js:ls');
INSERT INTO "match_keys" VALUES(26,'s:rmrs:2010');
INSERT INTO "match_keys" VALUES(26,'n:rmrs:mr');
INSERT INTO "match_keys" VALUES(26,'n:rmrs:ls');
INSERT INTO "match_keys" VALUES(26,'g:mr:0325');
INSERT INTO "match_keys" VALUES(26,'g:ls:0325');
INSERT INTO "match_keys" VALUES(26,'m:rmrs:2010');
INSERT INTO "match_keys" VALUES(26,'i:TX2932094254');
INSERT INTO "match_keys" VALUES(27,'d:2011-11-11');
INSERT INTO "match_keys" VALUES(27,'s:Js:2011');
INSERT INTO "match_keys" VALUES(27,'n:Js:mCl');
INSERT INTO "match_keys" VALUES(27,'s:rmrs:2011');
INSERT INTO "match_keys" VALUES(27,'n:rmrs:mCl');
INSERT INTO "match_keys" VALUES(27,'g:mCl:1111');
INSERT INTO "match_keys" VALUES(27,'m:rmrs:2011');
INSERT INTO "match_keys" VALUES(27,'i:TX8347376399');
INSERT INTO "match_keys" VALUES(28,'d:2014-09-20');
INSERT INTO "match_keys" VALUES(28,'s:A:2014');
INSERT INTO "match_keys" VALUES(28,'n:A:JrJ');
INSERT INTO "match_keys" VALUES(28,'s:lps:2014');
INSERT INTO "match_keys" VALUES(28,'n:lps:JrJ');
INSERT INTO "match_keys" VALUES(28,'g:JrJ:0920');
INSERT INTO "match_keys" VALUES(28,'m:lps:2014');
INSERT INTO "match_keys" VALUES(28,'i:TX0149854301');
INSERT INTO "match_keys" VALUES(29,'d:2009-08-29');
INSERT INTO "match_keys" VALUES(29,'s:srgs:2009');
INSERT INTO "match_keys" VALUES(29,'n:srgs:mdst');
INSERT INTO "match_keys" VALUES(29,'s:sng:2009');
INSERT INTO "match_keys" VALUES(29,'n:sng:mdst');
INSERT INTO "match_keys" VALUES(29,'g:mdst:0829');
INSERT INTO "match_keys" VALUES(29,'m:sng:2009');
INSERT INTO "match_keys" VALUES(29,'i:TX2657375557');
INSERT INTO "match_keys" VALUES(30,'d:2007-10-19');
INSERT INTO "match_keys" VALUES(30,'s:Agls:2007');
INSERT INTO "match_keys" VALUES(30,'n:Agls:gbrl');
INSERT INTO "match_keys" VALUES(30,'n:Agls:Jns');
INSERT INTO "match_keys" VALUES(30,'s:trs:2007');
INSERT INTO "match_keys" VALUES(30,'n:trs:gbrl');
INSERT INTO "match_keys" VALUES(30,'n:trs:Jns');
INSERT INTO "match_keys" VALUES(30,'g:gbrl:1019');
INSERT INTO "match_keys" VALUES(30,'g:Jns:1019');
INSERT INTO "match_keys" VALUES(30,'m:trs:2007');
INSERT INTO "match_keys" VALUES(30,'i:TX4329402500');
INSERT INTO "match_keys" VALUES(31,'d:2010-07-12');
INSERT INTO "match_keys" VALUES(31,'d:2010-12-07');
INSERT INTO "match_keys" VALUES(31,'s:Agls:2010');
INSERT INTO "match_keys" VALUES(31,'n:Agls:sf');
INSERT INTO "match_keys" VALUES(31,'n:Agls:Astr');
INSERT INTO "match_keys" VALUES(31,'s:trs:2010');
INSERT INTO "match_keys" VALUES(31,'n:trs:sf');
INSERT INTO "match_keys" VALUES(31,'n:trs:Astr');
INSERT INTO "match_keys" VALUES(31,'g:sf:0712');
INSERT INTO "match_keys" VALUES(31,'g:Astr:0712');
INSERT INTO "match_keys" VALUES(31,'g:sf:1207');
INSERT INTO "match_keys" VALUES(31,'m:trs:2010');
INSERT INTO "match_keys" VALUES(31,'i:TX1015706679');
INSERT INTO "match_keys" VALUES(32,'d:2017-08-21');
INSERT INTO "match_keys" VALUES(32,'s:rmrs:2017');
INSERT INTO "match_keys" VALUES(32,'n:rmrs:mr');
INSERT INTO "match_keys" VALUES(32,'s:Almrs:2017');
INSERT INTO "match_keys" VALUES(32,'n:Almrs:mr');
INSERT INTO "match_keys" VALUES(32,'g:mr:0821');
INSERT INTO "match_keys" VALUES(32,'m:Almrs:2017');
INSERT INTO "match_keys" VALUES(32,'i:TX9313510579');
INSERT INTO "match_keys" VALUES(33,'d:2018-01-31');
INSERT INTO "match_keys" VALUES(33,'s:rdrgs:2018');
INSERT INTO "match_keys" VALUES(33,'n:rdrgs:rbrt');
INSERT INTO "match_keys" VALUES(33,'s:krnd:2018');
INSERT INTO "match_keys" VALUES(33,'n:krnd:rbrt');
INSERT INTO "match_keys" VALUES(33,'g:rbrt:0131');
INSERT INTO "match_keys" VALUES(33,'m:krnd:2018');
INSERT INTO "match_keys" VALUES(33,'i:TX5200114216');
INSERT INTO "match_keys" VALUES(34,'d:2007-08-21');
INSERT INTO "match_keys" VALUES(34,'s:bydrs:2007');
INSERT INTO "match_keys" VALUES(34,'n:bydrs:sr');
INSERT INTO "match_keys" VALUES(34,'n:bydrs:dn');
INSERT INTO "match_keys" VALUES(34,'s:gtrs:2007');
INSERT INTO "match_keys" VALUES(34,'n:gtrs:sr');
INSERT INTO "match_keys" VALUES(34,'n:gtrs:dn');
INSERT INTO "match_keys" VALUES(34,'g:sr:0821');
INSERT INTO "match_keys" VALUES(34,'g:dn:0821');
INSERT INTO "match_keys" VALUES(34,'m:gtrs:2007');
INSERT INTO "match_keys" VALUES(34,'i:TX7082632508');
INSERT INTO "match_keys" VALUES(35,'d:2017-01-11');
INSERT INTO "match_keys" VALUES(35,'d:2017-11-01');
INSERT INTO "match_keys" VALUES(35,'s:mlgr:2017');
INSERT INTO "match_keys" VALUES(35,'n:mlgr:ks');
INSERT INTO "match_keys" VALUES(35,'n:mlgr:srn');
INSERT INTO "match_keys" VALUES(35,'s:gsmn:2017');
INSERT INTO "match_keys" VALUES(35,'n:gsmn:ks');
INSERT INTO "match_keys" VALUES(35,'n:gsmn:srn');
INSERT INTO "match_keys" VALUES(35,'g:ks:0111');
INSERT INTO "match_keys" VALUES(35,'g:srn:0111');
INSERT INTO "match_keys" VALUES(35,'g:ks:1101');
INSERT INTO "match_keys" VALUES(35,'m:gsmn:2017');
INSERT INTO "match_keys" VALUES(35,'i:TX8660053900');
INSERT INTO "match_keys" VALUES(36,'d:2018-09-01');
INSERT INTO "match_keys" VALUES(36,'d:2018-01-09');
INSERT INTO "match_keys" VALUES(36,'s:mlgr:2018');
INSERT INTO "match_keys" VALUES(36,'n:mlgr:dbr');
INSERT INTO "match_keys" VALUES(36,'s:gsmn:2018');
INSERT INTO "match_keys" VALUES(36,'n:gsmn:dbr');
INSERT INTO "match_keys" VALUES(36,'g:dbr:0901');
INSERT INTO "match_keys" VALUES(36,'g:dbr:0109');
INSERT INTO "match_keys" VALUES(36,'m:gsmn:2018');
INSERT INTO "match_keys" VALUES(36,'i:TX2908927933');
INSERT INTO "match_keys" VALUES(37,'d:2020-02-06');
INSERT INTO "match_keys" VALUES(37,'d:2020-06-02');
INSERT INTO "match_keys" VALUES(37,'s:mlgr:2020');
INSERT INTO "match_keys" VALUES(37,'n:mlgr:brn');
INSERT INTO "match_keys" VALUES(37,'n:mlgr:Jm');
INSERT INTO "match_keys" VALUES(37,'s:gsmn:2020');
INSERT INTO "match_keys" VALUES(37,'n:gsmn:brn');
INSERT INTO "match_keys" VALUES(37,'n:gsmn:Jm');
INSERT INTO "match_keys" VALUES(37,'g:brn:0206');
INSERT INTO "match_keys" VALUES(37,'g:Jm:0206');
INSERT INTO "match_keys" VALUES(37,'g:brn:0602');
INSERT INTO "match_keys" VALUES(37,'m:gsmn:2020');
INSERT INTO "match_keys" VALUES(37,'i:TX7396577825');
INSERT INTO "match_keys" VALUES(38,'d:2009-11-16');
INSERT INTO "match_keys" VALUES(38,'s:mntr:2009');
INSERT INTO "match_keys" VALUES(38,'n:mntr:dlrs');
INSERT INTO "match_keys" VALUES(38,'s:Arnd:2009');
INSERT INTO "match_keys" VALUES(38,'n:Arnd:dlrs');
INSERT INTO "match_keys" VALUES(38,'g:dlrs:1116');
INSERT INTO "match_keys" VALUES(38,'m:Arnd:2009');
INSERT INTO "match_keys" VALUES(38,'i:TX1822040553');
INSERT INTO "match_keys" VALUES(39,'d:2012-03-12');
INSERT INTO "match_keys" VALUES(39,'d:2012-12-03');
INSERT INTO "match_keys" VALUES(39,'s:mntr:2012');
INSERT INTO "match_keys" VALUES(39,'n:mntr:Jn');
INSERT INTO "match_keys" VALUES(39,'s:Arnd:2012');
INSERT INTO "match_keys" VALUES(39,'n:Arnd:Jn');
INSERT INTO "match_keys" VALUES(39,'g:Jn:0312');
INSERT INTO "match_keys" VALUES(39,'g:Jn:1203');
INSERT INTO "match_keys" VALUES(39,'m:Arnd:2012');
INSERT INTO "match_keys" VALUES(39,'i:TX7712046850');
INSERT INTO "match_keys" VALUES(40,'d:2012-06-08');
INSERT INTO "match_keys" VALUES(40,'d:2012-08-06');
INSERT INTO "match_keys" VALUES(40,'s:Jns:2012');
INSERT INTO "match_keys" VALUES(40,'n:Jns:trs');
INSERT INTO "match_keys" VALUES(40,'n:Jns:An');
INSERT INTO "match_keys" VALUES(40,'g:trs:0608');
INSERT INTO "match_keys" VALUES(40,'g:An:0608');
INSERT INTO "match_keys" VALUES(40,'g:trs:0806');
INSERT INTO "match_keys" VALUES(40,'m:Jns:2012');
INSERT INTO "match_keys" VALUES(40,'i:TX2161952160');
CREATE TABLE node_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  peer TEXT NOT NULL,
  type TEXT NOT NULL,
  purpose TEXT NOT NULL,
  message_id BLOB NOT NULL UNIQUE,
  body BLOB NOT NULL,
  summary TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_ms INTEGER,
  receipt_hash BLOB);
CREATE TABLE qualifying_moves (
  id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  "qualifying_arrival_date" TEXT,
  "move_from_city" TEXT,
  "move_from_state" TEXT,
  "move_from_country" TEXT,
  "move_to_city" TEXT,
  "move_to_state" TEXT,
  "eligibility_expiration_date" TEXT);
INSERT INTO "qualifying_moves" VALUES(1,1,0,'2022-11-21','Acapulco',NULL,'MEX','Harlingen','TX','2025-11-21');
INSERT INTO "qualifying_moves" VALUES(2,1,1,'2022-07-16','Tlaxiaco',NULL,'MEX','Harlingen','TX','2025-07-16');
INSERT INTO "qualifying_moves" VALUES(3,2,0,'2022-11-21','Acapulco',NULL,'MEX','Harlingen','TX','2025-11-21');
INSERT INTO "qualifying_moves" VALUES(4,2,1,'2022-07-16','Tlaxiaco',NULL,'MEX','Harlingen','TX','2025-07-16');
INSERT INTO "qualifying_moves" VALUES(5,3,0,'2023-01-24','Guadalajara',NULL,'MEX','El Paso','TX','2026-01-24');
INSERT INTO "qualifying_moves" VALUES(6,4,0,'2023-01-24','Guadalajara',NULL,'MEX','El Paso','TX','2026-01-24');
INSERT INTO "qualifying_moves" VALUES(7,5,0,'2024-02-28','Fresnillo',NULL,'MEX','Pharr','TX','2027-02-28');
INSERT INTO "qualifying_moves" VALUES(8,5,1,'2022-12-13','Celaya',NULL,'MEX','Edinburg','TX','2025-12-13');
INSERT INTO "qualifying_moves" VALUES(9,5,2,'2022-02-13','Oaxaca de Juárez',NULL,'MEX','Harlingen','TX','2025-02-13');
INSERT INTO "qualifying_moves" VALUES(10,6,0,'2024-02-28','Fresnillo',NULL,'MEX','Pharr','TX','2027-02-28');
INSERT INTO "qualifying_moves" VALUES(11,6,1,'2022-12-13','Celaya',NULL,'MEX','Edinburg','TX','2025-12-13');
INSERT INTO "qualifying_moves" VALUES(12,6,2,'2022-02-13','Oaxaca de Juárez',NULL,'MEX','Harlingen','TX','2025-02-13');
INSERT INTO "qualifying_moves" VALUES(13,7,0,'2024-02-28','Fresnillo',NULL,'MEX','Pharr','TX','2027-02-28');
INSERT INTO "qualifying_moves" VALUES(14,7,1,'2022-12-13','Celaya',NULL,'MEX','Edinburg','TX','2025-12-13');
INSERT INTO "qualifying_moves" VALUES(15,7,2,'2022-02-13','Oaxaca de Juárez',NULL,'MEX','Harlingen','TX','2025-02-13');
INSERT INTO "qualifying_moves" VALUES(16,8,0,'2023-10-25','Riverhead','NY','USA','Eagle Pass','TX','2026-10-25');
INSERT INTO "qualifying_moves" VALUES(17,8,1,'2022-08-23','Vidalia','GA','USA','San Juan','TX','2025-08-23');
INSERT INTO "qualifying_moves" VALUES(18,9,0,'2023-10-25','Riverhead','NY','USA','Eagle Pass','TX','2026-10-25');
INSERT INTO "qualifying_moves" VALUES(19,9,1,'2022-08-23','Vidalia','GA','USA','San Juan','TX','2025-08-23');
INSERT INTO "qualifying_moves" VALUES(20,10,0,'2025-02-03','Belle Glade','FL','USA','San Juan','TX','2028-02-03');
INSERT INTO "qualifying_moves" VALUES(21,10,1,'2024-04-10','Casa Grande','AZ','USA','Mission','TX','2027-04-10');
INSERT INTO "qualifying_moves" VALUES(22,11,0,'2024-09-22','Irapuato',NULL,'MEX','Pharr','TX','2027-08-21');
INSERT INTO "qualifying_moves" VALUES(23,11,1,'2023-11-23','Fresno','CA','USA','Eagle Pass','TX','2026-11-23');
INSERT INTO "qualifying_moves" VALUES(24,12,0,'2024-09-22','Irapuato',NULL,'MEX','Pharr','TX','2027-09-22');
INSERT INTO "qualifying_moves" VALUES(25,12,1,'2023-11-23','Fresno','CA','USA','Eagle Pass','TX','2026-11-23');
INSERT INTO "qualifying_moves" VALUES(26,13,0,'2024-09-22','Irapuato',NULL,'MEX','Pharr','TX','2027-09-22');
INSERT INTO "qualifying_moves" VALUES(27,13,1,'2023-11-23','Fresno','CA','USA','Eagle Pass','TX','2026-11-23');
INSERT INTO "qualifying_moves" VALUES(28,14,0,'2024-09-22','Irapuato',NULL,'MEX','Pharr','TX','2027-09-22');
INSERT INTO "qualifying_moves" VALUES(29,14,1,'2023-11-23','Fresno','CA','USA','Eagle Pass','TX','2026-11-23');
INSERT INTO "qualifying_moves" VALUES(30,15,0,'2022-09-12','Irapuato',NULL,'MEX','Laredo','TX','2025-09-12');
INSERT INTO "qualifying_moves" VALUES(31,15,1,'2021-08-27','Chilpancingo',NULL,'MEX','El Paso','TX','2024-08-27');
INSERT INTO "qualifying_moves" VALUES(32,16,0,'2022-09-12','Irapuato',NULL,'MEX','Laredo','TX','2025-09-12');
INSERT INTO "qualifying_moves" VALUES(33,16,1,'2021-08-27','Chilpancingo',NULL,'MEX','El Paso','TX','2024-08-27');
INSERT INTO "qualifying_moves" VALUES(34,17,0,'2022-09-12','Irapuato',NULL,'MEX','Laredo','TX','2025-09-12');
INSERT INTO "qualifying_moves" VALUES(35,17,1,'2021-08-27','Chilpancingo',NULL,'MEX','El Paso','TX','2024-08-27');
INSERT INTO "qualifying_moves" VALUES(36,18,0,'2024-10-19','Visalia','CA','USA','Pharr','TX','2026-08-26');
INSERT INTO "qualifying_moves" VALUES(37,19,0,'2023-04-10','Wilson','NC','USA','Brownsville','TX','2026-04-10');
INSERT INTO "qualifying_moves" VALUES(38,19,1,'2022-10-27','Medford','OR','USA','McAllen','TX','2025-10-27');
INSERT INTO "qualifying_moves" VALUES(39,20,0,'2023-04-10','Wilson','NC','USA','Brownsville','TX','2026-04-10');
INSERT INTO "qualifying_moves" VALUES(40,20,1,'2022-10-27','Medford','OR','USA','McAllen','TX','2025-10-27');
INSERT INTO "qualifying_moves" VALUES(41,21,0,'2023-04-10','Wilson','NC','USA','Brownsville','TX','2026-04-10');
INSERT INTO "qualifying_moves" VALUES(42,21,1,'2022-10-27','Medford','OR','USA','McAllen','TX','2025-10-27');
INSERT INTO "qualifying_moves" VALUES(43,22,0,'2024-08-29','Acapulco',NULL,'MEX','Edinburg','TX','2027-08-29');
INSERT INTO "qualifying_moves" VALUES(44,23,0,'2024-08-29','Acapulco',NULL,'MEX','Edinburg','TX','2027-08-29');
INSERT INTO "qualifying_moves" VALUES(45,24,0,'2023-08-17','Querétaro',NULL,'MEX','Weslaco','TX','2026-08-17');
INSERT INTO "qualifying_moves" VALUES(46,25,0,'2023-08-17','Querétaro',NULL,'MEX','Weslaco','TX','2026-08-17');
INSERT INTO "qualifying_moves" VALUES(47,26,0,'2023-08-17','Querétaro',NULL,'MEX','Weslaco','TX','2026-08-17');
INSERT INTO "qualifying_moves" VALUES(48,27,0,'2023-08-17','Querétaro',NULL,'MEX','Weslaco','TX','2026-08-17');
INSERT INTO "qualifying_moves" VALUES(49,28,0,'2024-09-24','Zamora',NULL,'MEX','Laredo','TX','2027-09-24');
INSERT INTO "qualifying_moves" VALUES(50,29,0,'2023-02-28','Woodburn','OR','USA','Harlingen','TX','2026-02-28');
INSERT INTO "qualifying_moves" VALUES(51,29,1,'2022-02-10','Salem','OR','USA','Weslaco','TX','2025-02-10');
INSERT INTO "qualifying_moves" VALUES(52,30,0,'2023-02-27','Huehuetenango',NULL,'GTM','Laredo','TX','2026-02-27');
INSERT INTO "qualifying_moves" VALUES(53,31,0,'2023-02-27','Huehuetenango',NULL,'GTM','Laredo','TX','2026-02-27');
INSERT INTO "qualifying_moves" VALUES(54,32,0,'2023-01-25','Willcox','AZ','USA','Brownsville','TX','2026-01-25');
INSERT INTO "qualifying_moves" VALUES(55,32,1,'2021-11-24','Geneva','NY','USA','Eagle Pass','TX','2024-11-24');
INSERT INTO "qualifying_moves" VALUES(56,33,0,'2023-12-29','Morelia',NULL,'MEX','Mission','TX','2026-12-29');
INSERT INTO "qualifying_moves" VALUES(57,33,1,'2022-12-09','Huehuetenango',NULL,'GTM','Pharr','TX','2025-12-09');
INSERT INTO "qualifying_moves" VALUES(58,34,0,'2024-06-21','San Luis','AZ','USA','Pharr','TX','2027-06-21');
INSERT INTO "qualifying_moves" VALUES(59,34,1,'2023-06-07','Irapuato',NULL,'MEX','Mission','TX','2026-06-07');
INSERT INTO "qualifying_moves" VALUES(60,35,0,'2023-09-20','Oaxaca de Juárez',NULL,'MEX','McAllen','TX','2026-09-20');
INSERT INTO "qualifying_moves" VALUES(61,35,1,'2022-11-22','Geneva','NY','USA','El Paso','TX','2025-11-22');
INSERT INTO "qualifying_moves" VALUES(62,36,0,'2023-09-20','Oaxaca de Juárez',NULL,'MEX','McAllen','TX','2026-09-20');
INSERT INTO "qualifying_moves" VALUES(63,36,1,'2022-11-22','Geneva','NY','USA','El Paso','TX','2025-11-22');
INSERT INTO "qualifying_moves" VALUES(64,37,0,'2023-09-20','Oaxaca de Juárez',NULL,'MEX','McAllen','TX','2026-09-20');
INSERT INTO "qualifying_moves" VALUES(65,37,1,'2022-11-22','Geneva','NY','USA','El Paso','TX','2025-11-22');
INSERT INTO "qualifying_moves" VALUES(66,38,0,'2023-05-15','Ruskin','FL','USA','Laredo','TX','2026-05-15');
INSERT INTO "qualifying_moves" VALUES(67,39,0,'2023-05-15','Ruskin','FL','USA','Laredo','TX','2026-05-15');
INSERT INTO "qualifying_moves" VALUES(68,40,0,'2023-09-15','Geneva','NY','USA','Eagle Pass','TX','2026-09-15');
CREATE TABLE record_handles (
  handle TEXT PRIMARY KEY,
  state_student_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  created_ms INTEGER NOT NULL, last_used_ms INTEGER, matched INTEGER NOT NULL DEFAULT 0);
CREATE TABLE "sessions" (
   "token_hash" TEXT PRIMARY KEY,
   "user_id" INTEGER NOT NULL REFERENCES "users"("id"),
   "csrf_token" TEXT NOT NULL,
   "created_at" REAL NOT NULL,
   "last_seen_at" REAL NOT NULL,
   "client" TEXT
);
CREATE TABLE "student_views" (
   "id" INTEGER PRIMARY KEY,
   "at" REAL NOT NULL,
   "username" TEXT NOT NULL,
   "role" TEXT NOT NULL,
   "purpose" TEXT NOT NULL,
   "student_id" TEXT NOT NULL,
   "source_state" TEXT NOT NULL,
   "what" TEXT
);
CREATE TABLE students (
  id INTEGER PRIMARY KEY,
  state_student_id TEXT NOT NULL UNIQUE,
  owner_state TEXT NOT NULL,
  record_version INTEGER NOT NULL,
  row_hash TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  "state_student_id_type" TEXT,
  "record_status" TEXT,
  "national_link_id" TEXT,
  "first_name" TEXT,
  "middle_name" TEXT,
  "last_name_1" TEXT,
  "last_name_2" TEXT,
  "suffix" TEXT,
  "sex" TEXT,
  "birth_date" TEXT,
  "birth_date_verification" TEXT,
  "multiple_birth" INTEGER,
  "birth_city" TEXT,
  "birth_state" TEXT,
  "birth_country" TEXT,
  "male_parent_first_name" TEXT,
  "male_parent_last_name" TEXT,
  "female_parent_first_name" TEXT,
  "female_parent_last_name" TEXT,
  "parent1_email" TEXT,
  "parent1_phone" TEXT,
  "parent2_email" TEXT,
  "parent2_phone" TEXT);
INSERT INTO "students" VALUES(1,'TX2258680730','TX',1,'6a278de5d79857862609952b0dae4a0d','2026-12-02T14:10:46+00:00','02',NULL,NULL,'José',NULL,'Gamez','Gutiérrez',NULL,'M','2011-10-29',NULL,0,'Brownsville','TX','USA','Felipe','Gamez','Laura','Gutiérrez',NULL,'2787516092',NULL,NULL);
INSERT INTO "students" VALUES(2,'TX4712831158','TX',1,'516f0bc4dbb6e4b6ba917a30aac26179','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Wilfrido','Gabriel','Gamez','Gutiérrez',NULL,'M','2014-07-21',NULL,0,'Brownsville','TX','USA','Felipe','Gamez','Laura','Gutiérrez',NULL,'4128736375',NULL,NULL);
INSERT INTO "students" VALUES(3,'TX1903530603','TX',1,'1002b03b96a2f267968ed621a098ff84','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Celia',NULL,'Lebrón','Sanches',NULL,'F','2016-03-17',NULL,0,'Tlaxiaco',NULL,'MEX','Jorge','Lebrón','Juana','Sanches',NULL,'5431288243',NULL,NULL);
INSERT INTO "students" VALUES(4,'TX3296370066','TX',1,'3192c5ec90635fe9f887a1667dda483d','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Alejandro',NULL,'Lebrón','Sanches',NULL,'M','2018-03-08',NULL,0,'Tlaxiaco',NULL,'MEX','Jorge','Lebrón','Juana','Sanches',NULL,'6212905838',NULL,NULL);
INSERT INTO "students" VALUES(5,'TX6764778457','TX',1,'d69058a50db69cb234c9907b4b88c324','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Sofía',NULL,'Orozco','Sánchez',NULL,'F','2014-04-05',NULL,1,'Culiacán',NULL,'MEX','Darío','Orozco Maldonado','Rosa','Sánchez',NULL,'5666022464',NULL,NULL);
INSERT INTO "students" VALUES(6,'TX9455272605','TX',1,'d9bb877ef26d8b8bfb1cad2c4b1b567b','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Francisco','Enrique','Orozco','Sánchez',NULL,'M','2014-04-05',NULL,1,'Culiacán',NULL,'MEX','Darío','Orozco','Rosa','Sánchez',NULL,'9507622244',NULL,NULL);
INSERT INTO "students" VALUES(7,'TX2526288390','TX',1,'978eea5f0d23333955642b57e6959cd7','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Javier',NULL,'Orozco','Sánchez',NULL,'M','2016-09-11',NULL,0,'Culiacán',NULL,'MEX','Darío','Orozco Maldonado','Rosa','Sánchez',NULL,'7915258120',NULL,NULL);
INSERT INTO "students" VALUES(8,'TX3411961662','TX',1,'3c8f4b01ab77b877f525cc07e335e925','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Adriana',NULL,'Meraz','Rolón',NULL,'F','2020-02-23',NULL,0,'Celaya',NULL,'MEX','Gerardo','Meraz','Verónica','Rolón',NULL,'2934669315',NULL,NULL);
INSERT INTO "students" VALUES(9,'TX4316057622','TX',1,'1fed31a6af2524158b2fd84b381d5f66','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Jorge',NULL,'Meraz','Rolón',NULL,'M','2022-07-16',NULL,0,'Celaya',NULL,'MEX','Gerardo','Meraz','Verónica','Rolón',NULL,'2757733715',NULL,NULL);
INSERT INTO "students" VALUES(10,'TX2019531562','TX',1,'23c0071c23340ea0e3097e92d62e47fa','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Rebeca',NULL,'Godínez','Montes',NULL,'F','2018-03-30',NULL,0,'Guadalajara',NULL,'MEX','Roberto','Godínez León','Aldonza','Montes',NULL,'3992287353',NULL,NULL);
INSERT INTO "students" VALUES(11,'TX3495096562','TX',1,'ab8ae446cfbd81fa86d6716b6b69fcb3','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Michael',NULL,'Jiménez','Cruz',NULL,'M','2005-08-21',NULL,0,'Uruapan',NULL,'MEX','José Eduardo','Jiménez','Amanda','Cruz',NULL,'9571979198',NULL,NULL);
INSERT INTO "students" VALUES(12,'TX3435266477','TX',1,'f39405a13382a0d6791fc5164c3bd0fa','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Cheyenne','Courtney','Jiménez','Cruz',NULL,'F','2007-11-07',NULL,0,'Uruapan',NULL,'MEX','José Eduardo','Jiménez','Amanda','Cruz',NULL,'3922848393',NULL,NULL);
INSERT INTO "students" VALUES(13,'TX4310179815','TX',1,'55ffbd727f42f027b37c41644a7ee071','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Michael','Jeffrey','Jiménez','Cruz',NULL,'M','2010-06-18',NULL,0,'Uruapan',NULL,'MEX','José Eduardo','Jiménez','Amanda','Cruz',NULL,'2825995683',NULL,NULL);
INSERT INTO "students" VALUES(14,'TX3263878471','TX',1,'d655814a89b388e9c66dd381273f09da','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Sandra',NULL,'Jiménez','Cruz',NULL,'F','2011-08-19',NULL,0,'Uruapan',NULL,'MEX','José Eduardo','Jiménez','Amanda','Cruz',NULL,'7605285773',NULL,NULL);
INSERT INTO "students" VALUES(15,'TX2011529094','TX',1,'7d0fb90715991627b70fb7049de0f806','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Leticia','María','Vásquez','Roque',NULL,'F','2016-12-19',NULL,0,'Edinburg','TX','USA','Bruno','Vásquez','Ilse','Roque',NULL,'6881952607',NULL,NULL);
INSERT INTO "students" VALUES(16,'TX1930516174','TX',1,'7ad132de037dba71f1609a35198c3bd3','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Concepción',NULL,'Vásquez','Roque',NULL,'F','2018-11-05',NULL,0,'Edinburg','TX','USA','Bruno','Vásquez','Ilse','Roque',NULL,'8460288780',NULL,NULL);
INSERT INTO "students" VALUES(17,'TX6334096002','TX',1,'b4e0a9cc703eb669429325fd2ed9501a','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Juan','Homero','Vásquez','Roque',NULL,'M','2020-04-16',NULL,0,'Edinburg','TX','USA','Bruno','Vásquez Mayorga','Ilse','Roque',NULL,'4051965308',NULL,NULL);
INSERT INTO "students" VALUES(18,'TX6516869491','TX',1,'ca85757526366a2c17eafcfdea281819','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Anabel','Asunción','López','Pineda',NULL,'F','2004-08-26',NULL,0,'Morelia',NULL,'MEX','Adán','López Concepción','Sessa','Pineda',NULL,'3976180722',NULL,NULL);
INSERT INTO "students" VALUES(19,'TX7418618680','TX',1,'67983ba4227dc13529fff50b871fc5cd','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Paul',NULL,'Díaz','Urías',NULL,'M','2005-10-19',NULL,0,'Laredo','TX','USA','Vicente','Díaz','Leticia','Urías',NULL,'4717346966',NULL,NULL);
INSERT INTO "students" VALUES(20,'TX5124155966','TX',1,'ff57dd44098bfd217c81ae7683b5d701','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Carlos',NULL,'Díaz','Urías',NULL,'M','2008-06-15',NULL,0,'Laredo','TX','USA','Vicente','Díaz','Leticia','Urías',NULL,'5068987924',NULL,NULL);
INSERT INTO "students" VALUES(21,'TX6542512818','TX',1,'6cdecea3ad5b18013a8fadc17e89b4be','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Ricky',NULL,'Díaz','Urías',NULL,'M','2009-09-11',NULL,0,'Laredo','TX','USA','Vicente','Díaz','Leticia','Urías',NULL,'8203498562',NULL,NULL);
INSERT INTO "students" VALUES(22,'TX7524211753','TX',1,'0c3cfbfb64d1445ebf01659729f13c78','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Frida',NULL,'Sanabria','Díaz',NULL,'F','2005-10-12',NULL,0,'Eagle Pass','TX','USA','Juan','Sanabria','Sofía','Díaz',NULL,'8143521747',NULL,NULL);
INSERT INTO "students" VALUES(23,'TX8376143489','TX',1,'96b0e0935a8c2fbd6be12c0cd1813aec','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Consuelo',NULL,'Sanabria','Díaz',NULL,'F','2008-07-19',NULL,0,'Eagle Pass','TX','USA','Juan','Sanabria','Sofía','Díaz',NULL,'8351428700',NULL,NULL);
INSERT INTO "students" VALUES(24,'TX7995785722','TX',1,'c7212db2ca45a09a4b92471e56f3e6a0','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Dolores','Yuridia','de Jesús','Ramírez',NULL,'F','2008-11-09',NULL,0,'Irapuato',NULL,'MEX','Luis','de Jesús Ramos','Isabel','Ramírez',NULL,'8660480127',NULL,NULL);
INSERT INTO "students" VALUES(25,'TX3045223547','TX',1,'17a30564b68603f9e04bc26d5c436e19','2026-12-02T14:10:46+00:00','02',NULL,NULL,'José Carlos',NULL,'de Jesús','Ramírez',NULL,'M','2010-03-25',NULL,1,'Irapuato',NULL,'MEX','Luis','de Jesús','Isabel','Ramírez',NULL,'9066299650',NULL,NULL);
INSERT INTO "students" VALUES(26,'TX2932094254','TX',1,'b5cdf226e462c1a252d649c7de5d9cad','2026-12-02T14:10:46+00:00','02',NULL,NULL,'María Luisa','Helena','de Jesús','Ramírez',NULL,'F','2010-03-25',NULL,1,'Irapuato',NULL,'MEX','Luis','de Jesús Ramos','Isabel','Ramírez',NULL,'4524521852',NULL,NULL);
INSERT INTO "students" VALUES(27,'TX8347376399','TX',1,'25b1c77b20d4340af7a151df2c5fe6d6','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Miguel',NULL,'de Jesús','Ramírez',NULL,'M','2011-11-11',NULL,0,'Irapuato',NULL,'MEX','Luis','de Jesús','Isabel','Ramírez',NULL,'8081598727',NULL,NULL);
INSERT INTO "students" VALUES(28,'TX0149854301','TX',1,'1e9277617460fe73fe944b36077c2846','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Jorge',NULL,'de la O','López',NULL,'M','2014-09-20',NULL,0,'Weslaco','TX','USA','Renato','de la O','Isabel','López',NULL,'8435575798',NULL,NULL);
INSERT INTO "students" VALUES(29,'TX2657375557','TX',1,'7e7a924bdc66d837eb4830111771d266','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Modesto',NULL,'Zaragoza','Zúñiga',NULL,'M','2009-08-29',NULL,0,'Culiacán',NULL,'MEX','Pascual','Zaragoza Flores','Soledad','Zúñiga',NULL,'8912927253',NULL,NULL);
INSERT INTO "students" VALUES(30,'TX4329402500','TX',1,'ec78b74269ba321189922cfccb25d83d','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Gabriel','Jonás','Iglesias','Torres',NULL,'M','2007-10-19',NULL,0,'Pharr','TX','USA','Francisco','Iglesias Valdivia','Ximena','Torres',NULL,'4048329584',NULL,NULL);
INSERT INTO "students" VALUES(31,'TX1015706679','TX',1,'90bedda2989e3a52e5be7ccad3d1cc2b','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Sofía','Esther','Iglesias','Torres',NULL,'F','2010-07-12',NULL,0,'Pharr','TX','USA','Francisco','Iglesias','Ximena','Torres',NULL,'9915594514',NULL,NULL);
INSERT INTO "students" VALUES(32,'TX9313510579','TX',1,'301945f51aa92fb31050e81adac27cc8','2026-12-02T14:10:46+00:00','02',NULL,NULL,'María',NULL,'Ramírez','Almaraz',NULL,'F','2017-08-21',NULL,0,'Pharr','TX','USA','José Eduardo','Ramírez','Elvia','Almaraz',NULL,'5291534501',NULL,NULL);
INSERT INTO "students" VALUES(33,'TX5200114216','TX',1,'b2526da6601bfc916fb5762d05cceffc','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Robert',NULL,'Rodríguez','Coronado',NULL,'M','2018-01-31',NULL,0,'Edinburg','TX','USA','Diego','Rodríguez Garica','Cristina','Coronado',NULL,'8524673400',NULL,NULL);
INSERT INTO "students" VALUES(34,'TX7082632508','TX',1,'3e3bac72b9f834dd081d1aa572c66793','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Sara','Diana','Valladares','Gutiérrez',NULL,'F','2007-08-21',NULL,0,'McAllen','TX','USA','Lucas','Valladares','Dolores','Gutiérrez',NULL,'8208817661',NULL,NULL);
INSERT INTO "students" VALUES(35,'TX8660053900','TX',1,'69fce2f51b55bb749025e5c5552255c6','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Casey','Sharon','Melgar','Guzmán',NULL,'F','2017-01-11',NULL,0,'León',NULL,'MEX','Ramiro','Melgar','Dolores','Guzmán',NULL,'3534608000',NULL,NULL);
INSERT INTO "students" VALUES(36,'TX2908927933','TX',1,'6286acf25698b12fdb5648f2bef3eeda','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Debra',NULL,'Melgar','Guzmán',NULL,'F','2018-09-01',NULL,0,'León',NULL,'MEX','Ramiro','Melgar','Dolores','Guzmán',NULL,'7700479172',NULL,NULL);
INSERT INTO "students" VALUES(37,'TX7396577825','TX',1,'b0964dfa65423de28b3115d267761675','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Brian','James','Melgar','Guzmán',NULL,'M','2020-02-06',NULL,0,'León',NULL,'MEX','Ramiro','Melgar','Dolores','Guzmán',NULL,'6700763045',NULL,NULL);
INSERT INTO "students" VALUES(38,'TX1822040553','TX',1,'ef8bc72baffb640b3c4d4f98db5307fe','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Dolores',NULL,'Montero','Aranda',NULL,'F','2009-11-16',NULL,0,'Irapuato',NULL,'MEX','Miguel','Montero','Olivia','Aranda',NULL,'7292692012',NULL,NULL);
INSERT INTO "students" VALUES(39,'TX7712046850','TX',1,'978ba462fc2b22df81f29b3494fe13fc','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Juana',NULL,'Montero','Aranda',NULL,'F','2012-03-12',NULL,0,'Irapuato',NULL,'MEX','Miguel','Montero','Olivia','Aranda',NULL,'7667306099',NULL,NULL);
INSERT INTO "students" VALUES(40,'TX2161952160','TX',1,'24cebd2ee3e59b4a12ccc41cad495bab','2026-12-02T14:10:46+00:00','02',NULL,NULL,'Teresa','Anne','Jones',NULL,NULL,'F','2012-06-08',NULL,0,'El Paso','TX','USA','Thomas','Jones','Amy','Jones',NULL,'8216247401',NULL,NULL);
CREATE TABLE "users" (
   "id" INTEGER PRIMARY KEY,
   "username" TEXT NOT NULL,
   "role" TEXT NOT NULL,
   "password_hash" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "created_at" REAL NOT NULL,
   "status_changed_at" REAL,
   "last_login_at" REAL
);
CREATE TABLE worklist (
  id INTEGER PRIMARY KEY,
  find_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  handle TEXT NOT NULL,
  query_key TEXT NOT NULL,
  score INTEGER NOT NULL,
  agreements TEXT NOT NULL,
  candidate TEXT NOT NULL,
  query TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  resolved_by TEXT,
  resolved_ms INTEGER,
  link_id INTEGER,
  UNIQUE (peer, handle, query_key));
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX idx_qualifying_moves_student ON qualifying_moves(student_id);
CREATE INDEX idx_assessments_student ON assessments(student_id);
CREATE INDEX idx_courses_enrollment ON courses(enrollment_row);
CREATE INDEX idx_match_keys_student ON match_keys(student_id);
CREATE INDEX idx_match_keys_key_student ON match_keys(key, student_id);
CREATE INDEX outbox_due ON outbox (delivered_ms, next_attempt_ms);
CREATE UNIQUE INDEX "idx_users_username"
    ON "users" ("username");
CREATE INDEX "idx_student_views_student_id"
    ON "student_views" ("student_id");
CREATE INDEX links_peer ON links (peer, peer_record);
CREATE INDEX links_anchor ON links (anchor_peer, anchor_record);
COMMIT;
