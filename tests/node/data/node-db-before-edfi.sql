-- node.db as made by the release before issue 17 (commit ffe564f): its own migrations, 3 synthetic students, 1 record handle
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'statenode','m001_records','2026-12-02 14:30:55.785060+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'statenode','m002_imports','2026-12-02 14:30:55.785835+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'statenode','m003_covering_match_keys','2026-12-02 14:30:55.786421+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'statenode.federation','m001_federation','2026-12-02 14:30:55.787398+00:00');
INSERT INTO "_sqlite_migrations" VALUES(5,'statenode.federation','m002_handle_last_use','2026-12-02 14:30:55.787706+00:00');
INSERT INTO "_sqlite_migrations" VALUES(6,'statenode.federation','m003_handle_matched','2026-12-02 14:30:55.788029+00:00');
INSERT INTO "_sqlite_migrations" VALUES(7,'statenode.accounts','m001_accounts','2026-12-02 14:30:55.789557+00:00');
INSERT INTO "_sqlite_migrations" VALUES(8,'statenode.links','m001_links','2026-12-02 14:30:55.790727+00:00');
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
CREATE TABLE node_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
INSERT INTO "node_secrets" VALUES('handles',X'7E87AE2A540DF6B0A1885CDD6F66D9299F158A18D513A0C649B9FCB64BECCA85');
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
CREATE TABLE record_handles (
  handle TEXT PRIMARY KEY,
  state_student_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  created_ms INTEGER NOT NULL, last_used_ms INTEGER, matched INTEGER NOT NULL DEFAULT 0);
INSERT INTO "record_handles" VALUES('KttZ1wEFUXTHPJJx-iKqtC1r','TX2258680730','CA',1796221855812,1796221855812,0);
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
INSERT INTO "students" VALUES(1,'TX2258680730','TX',1,'6a278de5d79857862609952b0dae4a0d','2026-12-02T14:30:55+00:00','02',NULL,NULL,'José',NULL,'Gamez','Gutiérrez',NULL,'M','2011-10-29',NULL,0,'Brownsville','TX','USA','Felipe','Gamez','Laura','Gutiérrez',NULL,'2787516092',NULL,NULL);
INSERT INTO "students" VALUES(2,'TX4712831158','TX',1,'516f0bc4dbb6e4b6ba917a30aac26179','2026-12-02T14:30:55+00:00','02',NULL,NULL,'Wilfrido','Gabriel','Gamez','Gutiérrez',NULL,'M','2014-07-21',NULL,0,'Brownsville','TX','USA','Felipe','Gamez','Laura','Gutiérrez',NULL,'4128736375',NULL,NULL);
INSERT INTO "students" VALUES(3,'TX1903530603','TX',1,'1002b03b96a2f267968ed621a098ff84','2026-12-02T14:30:55+00:00','02',NULL,NULL,'Celia',NULL,'Lebrón','Sanches',NULL,'F','2016-03-17',NULL,0,'Tlaxiaco',NULL,'MEX','Jorge','Lebrón','Juana','Sanches',NULL,'5431288243',NULL,NULL);
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
