package hugepages

import "testing"

func TestModeOf(t *testing.T) {
	tests := []struct{ enabled, want string }{
		{"always [madvise] never\n", "madvise"},
		{"[always] madvise never\n", "always"},
		{"always madvise [never]\n", "never"},
		{"always madvise never\n", ""},
		{"", ""},
		{"[] always\n", ""},
	}
	for _, tt := range tests {
		if got := modeOf(tt.enabled); got != tt.want {
			t.Errorf("modeOf(%q) = %q, want %q", tt.enabled, got, tt.want)
		}
	}
}

func TestDisablesTHP(t *testing.T) {
	tests := []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"disablethp=1", true},
		{"madvdontneed=1, disablethp=1", true},
		{"disablethp=1,disablethp=0", false},
		{"disablethp=0", false},
		{"xdisablethp=1", false},
	}
	for _, tt := range tests {
		if got := disablesTHP(tt.godebug); got != tt.want {
			t.Errorf("disablesTHP(%q) = %v, want %v", tt.godebug, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name          string
		size          int64
		mode, godebug string
		want          int
		skipped       bool
	}{
		{"madvise: the limit", 100 << 20, "madvise", "", 100 << 20, false},
		{"madvise: at most MaxSize", 1 << 40, "madvise", "", MaxSize, false},
		{"madvise: limit too small", 4 << 20, "madvise", "", 0, true},
		{"always: nothing to do", 100 << 20, "always", "", 0, true},
		{"never: respected", 100 << 20, "never", "", 0, true},
		{"no THP in the kernel", 100 << 20, "", "", 0, true},
		{"GODEBUG disablethp=1", 100 << 20, "madvise", "disablethp=1", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := decide(tt.size, tt.mode, tt.godebug)
			if got != tt.want || (why != "") != tt.skipped {
				t.Errorf("decide(%d, %q, %q) = %d, %q; want %d, skipped %v", tt.size, tt.mode, tt.godebug, got, why, tt.want, tt.skipped)
			}
		})
	}
}
