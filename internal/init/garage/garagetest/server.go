// Package garagetest is a TEST DOUBLE of Garage's admin API (version 2), built from the API
// description in Garage's repository (doc/api/garage-admin-v2.json), because no Garage binary can
// be had on the machines that run nixify's tests. It keeps just enough state (layout, keys,
// buckets, permissions) to answer the calls the bootstrap makes the way Garage does, including
// 409 for an import of a known key and 503 on /health until a layout is applied. It is not Garage.
package garagetest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sync"
)

// State is everything the double remembers; it can be saved so a restarted double keeps it.
type State struct {
	NodeID        string             `json:"nodeId"`
	LayoutVersion int                `json:"layoutVersion"`
	Roles         []map[string]any   `json:"roles"`
	Staged        []map[string]any   `json:"staged"`
	Keys          map[string]string  `json:"keys"`    // access key id -> secret
	Buckets       map[string]*bucket `json:"buckets"` // id -> bucket
}

type bucket struct {
	ID    string                     `json:"id"`
	Alias string                     `json:"alias"`
	Perms map[string]map[string]bool `json:"perms"` // key id -> read/write/owner
}

// Server is the double: an http.Handler with its state and a record of the calls it received.
type Server struct {
	token string
	path  string // where State is saved after each change; empty keeps it in memory

	mu    sync.Mutex
	state State
	calls []string
}

var (
	keyID     = regexp.MustCompile(`^GK[0-9a-f]{24}$`)
	keySecret = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// New returns a double that accepts the given admin token. With a non-empty path, state is loaded
// from and saved to that file, like Garage's metadata directory across restarts.
func New(token, path string) *Server {
	s := &Server{token: token, path: path}
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			json.Unmarshal(b, &s.state)
		}
	}
	if s.state.NodeID == "" {
		// Garage's ids are 64 hex digits; a double needs them well-formed and unique, not random.
		s.state.NodeID = fmt.Sprintf("%x", sha256.Sum256([]byte("node "+path)))
	}
	if s.state.Keys == nil {
		s.state.Keys = map[string]string{}
	}
	if s.state.Buckets == nil {
		s.state.Buckets = map[string]*bucket{}
	}
	return s
}

// Calls returns the calls received so far ("POST ImportKey", ...), /health excluded.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Snapshot returns a copy of the state for assertions.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.state)
	var c State
	json.Unmarshal(b, &c)
	return c
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/health" {
		if s.state.LayoutVersion == 0 {
			http.Error(w, "no layout", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		fail(w, http.StatusForbidden, "Forbidden", "invalid admin token")
		return
	}
	endpoint := r.URL.Path[min(len(r.URL.Path), len("/v2/")):]
	s.calls = append(s.calls, r.Method+" "+endpoint)
	var in map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "InvalidRequest", "bad JSON body")
			return
		}
	}
	st := &s.state
	switch r.Method + " " + r.URL.Path {
	case "GET /v2/GetClusterStatus":
		reply(w, map[string]any{"layoutVersion": st.LayoutVersion,
			"nodes": []map[string]any{{"id": st.NodeID, "isUp": true, "draining": false}}})
	case "GET /v2/GetClusterLayout":
		reply(w, s.layout())
	case "POST /v2/UpdateClusterLayout":
		s.updateLayout(w, in)
	case "POST /v2/ApplyClusterLayout":
		s.applyLayout(w, in)
	case "POST /v2/ImportKey":
		s.importKey(w, in)
	case "GET /v2/GetBucketInfo":
		s.bucketInfo(w, r.URL.Query().Get("globalAlias"))
	case "POST /v2/CreateBucket":
		s.createBucket(w, in)
	case "POST /v2/AllowBucketKey":
		s.allowBucketKey(w, in)
	default:
		fail(w, http.StatusNotFound, "NotFound", "no such endpoint in the test double")
	}
}

func (s *Server) updateLayout(w http.ResponseWriter, in map[string]any) {
	st := &s.state
	roles, _ := in["roles"].([]any)
	for _, r := range roles {
		role, _ := r.(map[string]any)
		if role["id"] != st.NodeID {
			fail(w, http.StatusBadRequest, "InvalidRequest", "unknown node id")
			return
		}
		st.Staged = append(st.Staged, role)
	}
	s.save()
	reply(w, s.layout())
}

func (s *Server) applyLayout(w http.ResponseWriter, in map[string]any) {
	st := &s.state
	v, _ := in["version"].(float64)
	if int(v) != st.LayoutVersion+1 || len(st.Staged) == 0 {
		fail(w, http.StatusBadRequest, "InvalidRequest", "version must be current+1 with staged changes")
		return
	}
	st.LayoutVersion, st.Roles, st.Staged = int(v), st.Staged, nil
	s.save()
	reply(w, map[string]any{"message": []string{"applied"}, "layout": s.layout()})
}

func (s *Server) importKey(w http.ResponseWriter, in map[string]any) {
	st := &s.state
	id, _ := in["accessKeyId"].(string)
	secret, _ := in["secretAccessKey"].(string)
	if !keyID.MatchString(id) || !keySecret.MatchString(secret) {
		fail(w, http.StatusBadRequest, "InvalidRequest", "invalid key format")
		return
	}
	if _, ok := st.Keys[id]; ok {
		fail(w, http.StatusConflict, "KeyAlreadyExists", "Key "+id+" already exists in data store")
		return
	}
	st.Keys[id] = secret
	s.save()
	reply(w, map[string]any{"accessKeyId": id, "name": in["name"], "expired": false,
		"permissions": map[string]any{}, "buckets": []any{}})
}

func (s *Server) bucketInfo(w http.ResponseWriter, alias string) {
	for _, b := range s.state.Buckets {
		if b.Alias == alias {
			reply(w, bucketInfo(b))
			return
		}
	}
	fail(w, http.StatusNotFound, "NoSuchBucket", "Bucket not found")
}

func (s *Server) createBucket(w http.ResponseWriter, in map[string]any) {
	st := &s.state
	alias, _ := in["globalAlias"].(string)
	for _, b := range st.Buckets {
		if b.Alias == alias {
			fail(w, http.StatusConflict, "BucketAlreadyExists", "Bucket already exists")
			return
		}
	}
	b := &bucket{ID: fmt.Sprintf("%x", sha256.Sum256([]byte("bucket "+alias))), Alias: alias, Perms: map[string]map[string]bool{}}
	st.Buckets[b.ID] = b
	s.save()
	reply(w, bucketInfo(b))
}

func (s *Server) allowBucketKey(w http.ResponseWriter, in map[string]any) {
	st := &s.state
	id, _ := in["accessKeyId"].(string)
	bucketID, _ := in["bucketId"].(string)
	b := st.Buckets[bucketID]
	if _, ok := st.Keys[id]; !ok || b == nil {
		fail(w, http.StatusNotFound, "NoSuchAccessKey", "key or bucket not found")
		return
	}
	perms, _ := in["permissions"].(map[string]any)
	if b.Perms[id] == nil {
		b.Perms[id] = map[string]bool{}
	}
	for k, v := range perms {
		if v == true {
			b.Perms[id][k] = true
		}
	}
	s.save()
	reply(w, bucketInfo(b))
}

func (s *Server) layout() map[string]any {
	roles := s.state.Roles
	if roles == nil {
		roles = []map[string]any{}
	}
	staged := s.state.Staged
	if staged == nil {
		staged = []map[string]any{}
	}
	return map[string]any{"version": s.state.LayoutVersion, "roles": roles, "stagedRoleChanges": staged,
		"partitionSize": 0, "parameters": map[string]any{"zoneRedundancy": "maximum"}}
}

func bucketInfo(b *bucket) map[string]any {
	keys := []map[string]any{}
	for id, p := range b.Perms {
		keys = append(keys, map[string]any{"accessKeyId": id, "name": "", "bucketLocalAliases": []string{},
			"permissions": map[string]bool{"read": p["read"], "write": p["write"], "owner": p["owner"]}})
	}
	return map[string]any{"id": b.ID, "globalAliases": []string{b.Alias}, "keys": keys}
}

func (s *Server) save() {
	if s.path == "" {
		return
	}
	b, _ := json.Marshal(s.state)
	os.WriteFile(s.path, b, 0o600)
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}
