package nix

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMissingOfEveryNix(t *testing.T) {
	for _, tc := range []struct {
		name, text         string
		build, fetch       []string
		unknown            []string
		download, unpacked int64
	}{
		{
			// Nix 2.8, tried here: the messages of `nix build --dry-run --log-format internal-json`.
			name: "2.8",
			text: "these 2 derivations will be built:\n  /nix/store/19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b.drv\n  /nix/store/6j02ws5lq4pmsmbi44w8yik1f03wz0x4-top.drv\n" +
				"this path will be fetched (0.29 MiB download, 1.50 MiB unpacked):\n  /nix/store/c7cm59m6cys3nghw58ldag5x64nyj9xd-dep-a",
			build:    []string{"/nix/store/19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b.drv", "/nix/store/6j02ws5lq4pmsmbi44w8yik1f03wz0x4-top.drv"},
			fetch:    []string{"/nix/store/c7cm59m6cys3nghw58ldag5x64nyj9xd-dep-a"},
			download: 304087, unpacked: 1572864,
		},
		{
			// Newer Nix: any binary unit, and a warning between the lists.
			name: "2.26",
			text: "this derivation will be built:\n  /nix/store/mfnrb51456g8cs39c9r7k6j8bn577f78-stream-app.drv\nwarning: Git tree '/src' is dirty\n" +
				"these 12 paths will be fetched (178.1 KiB download, 128.4 MiB unpacked):\n  /nix/store/dpayvg17ysv6kdb31j80wpbsqly9zgpz-fakeroot-1.37.2\n  /nix/store/drm3hgigwg5rdxzgjxhnh8vsdpb11ia7-getopt-1.1.6",
			build:    []string{"/nix/store/mfnrb51456g8cs39c9r7k6j8bn577f78-stream-app.drv"},
			fetch:    []string{"/nix/store/dpayvg17ysv6kdb31j80wpbsqly9zgpz-fakeroot-1.37.2", "/nix/store/drm3hgigwg5rdxzgjxhnh8vsdpb11ia7-getopt-1.1.6"},
			download: 182374, unpacked: 134637158,
		},
		{
			// Before 2.4: no count; and paths nix cannot get.
			name: "2.3",
			text: "these derivations will be built:\n  /nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-libraries.drv\nthese paths will be fetched (44.16 MiB download, 236.37 MiB unpacked):\n" +
				"  /nix/store/fsn35pc8njnimgn2sn26dlsyxya1wssb-vim-8.2.0013\ndon't know how to build these paths:\n  /nix/store/19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b\nbuilding '/nix/store/x.drv'...",
			build:    []string{"/nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-libraries.drv"},
			fetch:    []string{"/nix/store/fsn35pc8njnimgn2sn26dlsyxya1wssb-vim-8.2.0013"},
			unknown:  []string{"/nix/store/19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b"},
			download: 46305116, unpacked: 247851909,
		},
		{name: "nothing to do", text: "warning: not writing modified lock file of flake"},
	} {
		m := ParseMissing(strings.Split(tc.text, "\n"))
		if !slices.Equal(m.Build, tc.build) || !slices.Equal(m.Fetch, tc.fetch) || !slices.Equal(m.Unknown, tc.unknown) ||
			m.DownloadBytes != tc.download || m.UnpackedBytes != tc.unpacked {
			t.Errorf("%s: %+v", tc.name, m)
		}
	}
}

// A binary cache lacking a path: what Substitutes reads.
func TestParseCacheAnswerOfEveryNix(t *testing.T) {
	const a, b = "/nix/store/c7cm59m6cys3nghw58ldag5x64nyj9xd-dep-a", "/nix/store/19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b"
	for name, data := range map[string]string{
		// Nix 2.8, tried here against a file:// cache holding dep-a only.
		"2.8":  `[{"path":"` + b + `","valid":false},{"path":"` + a + `","narHash":"sha256-YoOJY+uc2bacuevE8zee55M7gDtXKJcezQcSLwo1zz8=","narSize":307320,"references":[],"url":"nar/13xn.nar.xz","downloadSize":307396}]`,
		"2.19": `{"` + b + `":null,"` + a + `":{"narSize":307320,"downloadSize":307396}}`,
		"2.33": `{"19haxd0dl2nwsn9l9nr94pc89bzj26d0-dep-b":null,"c7cm59m6cys3nghw58ldag5x64nyj9xd-dep-a":{"storeDir":"/nix/store","narSize":307320,"downloadSize":307396}}`,
	} {
		got, invalid, err := parsePathInfos([]byte(data))
		if err != nil || len(got) != 1 || got[0].Path != a || got[0].DownloadSize != 307396 || got[0].NarSize != 307320 ||
			len(invalid) != 1 || invalid[0] != b {
			t.Errorf("%s: %+v %v %v", name, got, invalid, err)
		}
	}
}
