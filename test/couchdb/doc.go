// Package couchdb starts and stops a pouchdb-server process, a
// CouchDB-compatible server, for the end-to-end tests and the demo, and
// loads documents into it (Client: create databases, _security, users,
// _bulk_docs).
//
// The server is the npm package pinned in test/package.json (pouchdb-server
// 4.2.0, PouchDB 7.3.1), installed by `make test` (`cd test && npm ci`);
// this package never installs anything. It runs in memory on a loopback
// port, from a temporary working directory (where pouchdb-server writes
// config.json and log.txt) that Stop removes. It also exits by itself when
// the Go process that started it dies.
//
// # Credentials
//
// CHT's CouchDB runs with require_valid_user = true. pouchdb-server has no
// such setting (PUT /_config/couch_httpd_auth/require_valid_user is stored
// and ignored). With Options.AdminUser set, Start ends the admin party (PUT
// /_config/admins/<user>) and Server.CreateDB puts a _security object whose
// members are that user and role _admin. Then, on that database: right
// basic auth → 200; wrong password or unknown user → 401 "Name or password
// is incorrect."; no credentials → 401 "You are not authorized to access
// this db."; a valid user who is not a member → 401 (CouchDB: 403
// forbidden). Outside the database, GET /, /_session, /_all_dbs and
// requests to absent databases stay anonymous. 401s carry no
// WWW-Authenticate header.
//
// # Differences from CouchDB that a CouchDB client may meet
//
// Checked by couchdb_test.go against the pinned version:
//
//   - Views ignore startkey_docid/endkey_docid (PouchDB has no such option):
//     CouchDB's paging recipe (startkey=<key>&startkey_docid=<id>) repeats
//     the rows of that key before <id>. Use keys that are unique per page
//     boundary, skip, or pages large enough for the test data.
//   - View keys sort as JS strings (pouchdb-collate), not ICU: "B" < "a".
//   - offset in _all_docs and view answers is the skip, not the position of
//     the first row.
//   - Query values that are not JSON (startkey=target) are taken as strings;
//     CouchDB answers 400 bad_request.
//   - GET of a deleted doc is 404 {"error":"not_found","reason":"missing"}
//     (CouchDB: reason "deleted"); an absent view is 404 reason "ddoc
//     _design/x has no view named y" (CouchDB: "missing_named_view").
//   - An absent database (e.g. /api/v1/settings, taken as database "api") is
//     404 {"error":"not_found","reason":"no_db_file"} (CouchDB: "Database
//     does not exist.").
//   - _bulk_docs answers design and _local docs first, then the others in
//     request order (CouchDB: request order). Match rows by id.
//   - Request bodies are ignored unless Content-Type is application/json:
//     POST _all_docs {"keys": [...]} without it answers 200 with every doc
//     in the database (CouchDB: 415 bad_content_type), and PUT _security
//     without it stores {}.
//   - An anonymous PUT /<db> after the admin party ended crashes the whole
//     server (TypeError in express-pouchdb routes/db.js). Always create
//     databases with admin credentials.
//
// The same as CouchDB: _all_docs startkey/endkey ranges (including a raw
// U+FFF0 in endkey), limit, include_docs; POST and GET _all_docs with keys
// (rows in key order, {"key","error":"not_found"} for absent ids,
// {"id","key","value":{"rev","deleted":true},"doc":null} for deleted ones);
// deleted docs left out of ranges and total_rows; views with include_docs,
// key, keys, skip, limit; a map function that throws drops the whole doc;
// conflicts in _bulk_docs as {"id","error":"conflict","reason":"Document
// update conflict"}; responses are text/plain unless Accept asks for
// application/json.
package couchdb
