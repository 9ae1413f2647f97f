// Package mediatorconfig holds the mediator's OpenHIM registration document,
// mediator.json, built into the binary so that "mediator serve" registers
// the same document wherever it runs.
package mediatorconfig

import _ "embed"

// MediatorJSON is mediator.json: urn, endpoints, default channels, console
// config definitions and defaults. Its version is replaced by the program's.
//
//go:embed mediator.json
var MediatorJSON []byte
