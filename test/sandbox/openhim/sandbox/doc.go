// Package sandbox is an in-memory OpenHIM core for end-to-end tests and
// demos of OpenHIM mediators. It implements, as the source of
// core (jembi/openhim-core-js, 8.x) does it, the core API a mediator talks to —
// registration with core's validation, heartbeats, console config, basic
// and legacy token authentication, channels, clients, metadata import,
// transactions, rerun tasks — and the HTTP router that matches channels,
// authenticates clients, forwards requests to routes, reads mediator
// response envelopes and records transactions as core stores them.
//
// It is an independent implementation of that behaviour with the standard
// library only, so that it catches mediator bugs instead of mirroring
// them. Where core's behaviour comes from JavaScript (truthiness, typeof,
// Koa's setters, mongoose casting), the sandbox reproduces those rules.
package sandbox
