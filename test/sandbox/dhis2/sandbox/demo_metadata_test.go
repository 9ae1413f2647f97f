package sandbox

import (
	"os"
	"testing"
)

func TestDemoMetadataLoads(t *testing.T) {
	f, err := os.Open("../testdata/demo-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := LoadMetadata(f); err != nil {
		t.Fatal(err)
	}
}
