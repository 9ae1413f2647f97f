// Package sandbox is an in-memory DHIS2 server for end-to-end tests and
// demos. It implements the parts of the DHIS2 Web API that a client pushing
// aggregate data needs, as the DHIS2 Web API docs and dhis2-core describe
// them: system info, the
// current user, metadata endpoints with field filters, POST and GET
// /api/dataValueSets (synchronous and asynchronous), task polling, and the
// response shapes, status codes and import semantics of each DHIS2 version
// family (2.36 to 2.43).
//
// It is an independent implementation of that behaviour, using only the standard
// library, so that it can catch client bugs rather than mirror them.
package sandbox
