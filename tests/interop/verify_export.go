// verify_export checks a statenode exchange-log export and one receipt with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog: code nobody on the
// statenode project wrote (tests/interop/test_go_interop.py runs it).
//
//	go run verify_export.go EXPORT_DIR RECEIPT_FILE
//
// 1. the export's checkpoint note verifies with its verifier-key (note.Open; witness
//    cosignatures of unknown keys are ignored, as signed-note requires);
// 2. its tree hash (tlog.TreeHash over tlog.RecordHash of every leaf of entries.jsonl)
//    equals the root in the checkpoint, at the checkpoint's size;
// 3. the receipt (a C2SP tlog-proof@v1) names an entry whose leaf, with the receipt's
//    inclusion proof (tlog.CheckRecord), hashes to the root of the receipt's checkpoint,
//    whose note also verifies.
//
// It prints one line per check and exits 1 on the first failure.
// Build offline in GOPATH mode: GO111MODULE=off GOPATH=...:/usr/share/gocode.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// checkpoint parses C2SP tlog-checkpoint text: origin, size, base64 root.
func checkpoint(text string) (string, int64, tlog.Hash) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		fail("checkpoint size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return lines[0], size, root
}

func openNote(msg []byte, v note.Verifier) *note.Note {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	return n
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: verify_export EXPORT_DIR RECEIPT_FILE")
	}
	dir, receiptFile := os.Args[1], os.Args[2]
	vkey, err := os.ReadFile(dir + "/verifier-key")
	if err != nil {
		fail("%v", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	msg, err := os.ReadFile(dir + "/checkpoint")
	if err != nil {
		fail("%v", err)
	}
	n := openNote(msg, verifier)
	origin, size, root := checkpoint(n.Text)
	if origin != verifier.Name() {
		fail("checkpoint origin %q is not the key name %q", origin, verifier.Name())
	}
	fmt.Printf("checkpoint: %s size %d, signed by %s (%d other signatures ignored)\n",
		origin, size, n.Sigs[0].Name, len(n.UnverifiedSigs))

	// every leaf, hashed and stored the way sumdb stores them
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not stored", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	var leaves [][]byte
	f, err := os.Open(dir + "/entries.jsonl")
	if err != nil {
		fail("%v", err)
	}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		var line struct {
			Index int64  `json:"index"`
			Leaf  string `json:"leaf"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			fail("entries.jsonl line %d: %v", len(leaves)+1, err)
		}
		leaf, err := base64.StdEncoding.DecodeString(line.Leaf)
		if err != nil || line.Index != int64(len(leaves)) {
			fail("entries.jsonl line %d: bad leaf or index", len(leaves)+1)
		}
		hashes, err := tlog.StoredHashes(int64(len(leaves)), leaf, reader)
		if err != nil {
			fail("tlog.StoredHashes: %v", err)
		}
		stored = append(stored, hashes...)
		leaves = append(leaves, leaf)
	}
	if err := scanner.Err(); err != nil {
		fail("%v", err)
	}
	if int64(len(leaves)) != size {
		fail("the export has %d entries, the checkpoint %d", len(leaves), size)
	}
	th, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("tlog.TreeHash: %v", err)
	}
	if th != root {
		fail("tree hash %s of %d entries is not the checkpoint's root %s", th, size, root)
	}
	fmt.Printf("tree: %d entries hash to the checkpoint's root %s\n", size, th)

	// the receipt: c2sp.org/tlog-proof@v1, [extra], index N, proof lines, blank, checkpoint
	data, err := os.ReadFile(receiptFile)
	if err != nil {
		fail("%v", err)
	}
	parts := strings.SplitN(string(data), "\n\n", 2)
	if len(parts) != 2 {
		fail("receipt has no blank line")
	}
	head := strings.Split(parts[0], "\n")
	if head[0] != "c2sp.org/tlog-proof@v1" {
		fail("receipt header %q", head[0])
	}
	pos := 1
	if pos < len(head) && strings.HasPrefix(head[pos], "extra ") {
		pos++
	}
	if pos >= len(head) || !strings.HasPrefix(head[pos], "index ") {
		fail("receipt has no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(head[pos], "index "), 10, 64)
	if err != nil || index < 0 || index >= int64(len(leaves)) {
		fail("receipt index %q", head[pos])
	}
	var proof tlog.RecordProof
	for _, line := range head[pos+1:] {
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize {
			fail("receipt proof line %q", line)
		}
		var h tlog.Hash
		copy(h[:], raw)
		proof = append(proof, h)
	}
	rn := openNote([]byte(parts[1]), verifier)
	_, rsize, rroot := checkpoint(rn.Text)
	if err := tlog.CheckRecord(proof, rsize, rroot, index, tlog.RecordHash(leaves[index])); err != nil {
		fail("tlog.CheckRecord of entry %d in a tree of %d: %v", index, rsize, err)
	}
	fmt.Printf("receipt: entry %d is in the tree of size %d (%d proof hashes)\n", index, rsize,
		len(proof))
	fmt.Println("OK")
}
