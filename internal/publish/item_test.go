package publish

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
)

// A push plan's JSON names an architecture as every other command's JSON does (README: one
// vocabulary): "architecture", OCI's spelling; and it reads back as the same item.
func TestItemJSONSpeaksOCI(t *testing.T) {
	in := Item{Kind: KindImage, Arch: arch.AArch64, Digest: "sha256:ab", Tags: []string{"latest-aarch64-linux-static"}}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"architecture":"arm64"`) || strings.Contains(string(b), `"arch"`) {
		t.Fatalf("item JSON %s, want \"architecture\":\"arm64\" and no \"arch\"", b)
	}
	var out Item
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Arch != in.Arch || out.Digest != in.Digest || out.Tags[0] != in.Tags[0] {
		t.Fatalf("read back %+v, want %+v", out, in)
	}
	index, _ := json.Marshal(Item{Kind: KindIndex, Digest: "sha256:cd"})
	if strings.Contains(string(index), "architecture") {
		t.Fatalf("an index has no architecture: %s", index)
	}
}
