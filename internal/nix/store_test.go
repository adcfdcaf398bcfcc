package nix

import (
	"slices"
	"testing"
)

// The JSON of `nix path-info --json` as Nix 2.8 prints it (tried here), as Nix 2.19 to 2.32 print
// it (an object keyed by path), and in the 2.33 form (base names, narHash as an object).
func TestParsePathInfosOfEveryNix(t *testing.T) {
	want := []PathInfo{{
		Path: "/nix/store/aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0", NarHash: "sha256-7E8GfalJskO/ADHPS6CmX6SLecJ6m4MmL13sZbNDuwY=", NarSize: 464,
		References: []string{"/nix/store/kh876wf6dskp05f36l300126k0mbp21d-glibc-2.40"}, Deriver: "/nix/store/ji4v1gplkx3sl39pnhwzhmbvm3dc7d99-libfoo-1.0.drv",
	}}
	for name, data := range map[string]string{
		"2.8": `[{"path":"/nix/store/aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0","narHash":"sha256-7E8GfalJskO/ADHPS6CmX6SLecJ6m4MmL13sZbNDuwY=","narSize":464,
			"references":["/nix/store/kh876wf6dskp05f36l300126k0mbp21d-glibc-2.40"],"deriver":"/nix/store/ji4v1gplkx3sl39pnhwzhmbvm3dc7d99-libfoo-1.0.drv","registrationTime":1795999757,"ultimate":true}]`,
		"2.19": `{"/nix/store/aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0":{"narHash":"sha256-7E8GfalJskO/ADHPS6CmX6SLecJ6m4MmL13sZbNDuwY=","narSize":464,
			"references":["/nix/store/kh876wf6dskp05f36l300126k0mbp21d-glibc-2.40"],"deriver":"/nix/store/ji4v1gplkx3sl39pnhwzhmbvm3dc7d99-libfoo-1.0.drv","ca":null}}`,
		"2.33": `{"aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0":{"version":2,"storeDir":"/nix/store","narHash":{"algorithm":"sha256","format":"base64","hash":"sha256-7E8GfalJskO/ADHPS6CmX6SLecJ6m4MmL13sZbNDuwY="},"narSize":464,
			"references":["kh876wf6dskp05f36l300126k0mbp21d-glibc-2.40"],"deriver":"ji4v1gplkx3sl39pnhwzhmbvm3dc7d99-libfoo-1.0.drv"}}`,
	} {
		got, err := ParsePathInfos([]byte(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 1 || got[0].Path != want[0].Path || got[0].NarHash != want[0].NarHash || got[0].NarSize != 464 ||
			!slices.Equal(got[0].References, want[0].References) || got[0].Deriver != want[0].Deriver {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	if _, err := ParsePathInfos([]byte(`{"/nix/store/x-gone":null}`)); err == nil {
		t.Error("an invalid path was not reported")
	}
	if _, err := ParsePathInfos([]byte(`not json`)); err == nil {
		t.Error("garbage was accepted")
	}
}

// `nix show-derivation` (2.8, tried here), `nix derivation show` with inputDrvs as objects
// (2.18+), and format version 4 (inputs.drvs, base names).
func TestParseDerivationsOfEveryNix(t *testing.T) {
	for name, data := range map[string]string{
		"2.8": `{"/nix/store/wpp4yh4kfnym9w9ckv0r4drv94m00dyf-libfoo-1.0.tar.drv":{"outputs":{"out":{"path":"/nix/store/nfg95r3hvd4hbni3hv002z5ncns4rmiw-libfoo-1.0.tar","hashAlgo":"sha256","hash":"9c1e5db5134a142f731b537c49ac8c4c2af17b7e577c40ff630504414c3cedb3"}},
			"inputSrcs":[],"inputDrvs":{"/nix/store/aaaa4yh4kfnym9w9ckv0r4drv94m00dy-curl.drv":["out"]},"system":"x86_64-linux","builder":"/bin/sh","args":[],"env":{"url":"https://example.org/libfoo-1.0.tar","outputHash":"sha256-nB5dtRNKFC9zG1N8SayMTCrxe35XfED/YwUEQUw87bM="}}}`,
		"2.18": `{"/nix/store/wpp4yh4kfnym9w9ckv0r4drv94m00dyf-libfoo-1.0.tar.drv":{"name":"libfoo-1.0.tar","outputs":{"out":{"path":"/nix/store/nfg95r3hvd4hbni3hv002z5ncns4rmiw-libfoo-1.0.tar","method":"flat","hashAlgo":"sha256","hash":"9c1e5db5134a142f731b537c49ac8c4c2af17b7e577c40ff630504414c3cedb3"}},
			"inputSrcs":[],"inputDrvs":{"/nix/store/aaaa4yh4kfnym9w9ckv0r4drv94m00dy-curl.drv":{"dynamicOutputs":{},"outputs":["out"]}},"system":"x86_64-linux","builder":"/bin/sh","args":[],"env":{"url":"https://example.org/libfoo-1.0.tar"}}}`,
		"v4": `{"wpp4yh4kfnym9w9ckv0r4drv94m00dyf-libfoo-1.0.tar.drv":{"version":4,"name":"libfoo-1.0.tar","outputs":{"out":{"path":"nfg95r3hvd4hbni3hv002z5ncns4rmiw-libfoo-1.0.tar","method":"flat","hashAlgo":"sha256","hash":"sha256-nB5dtRNKFC9zG1N8SayMTCrxe35XfED/YwUEQUw87bM="}},
			"inputs":{"srcs":[],"drvs":{"aaaa4yh4kfnym9w9ckv0r4drv94m00dy-curl.drv":{"dynamicOutputs":{},"outputs":["out"]}}},"system":"x86_64-linux","builder":"/bin/sh","args":[],"env":{"url":"https://example.org/libfoo-1.0.tar"}}}`,
	} {
		got, err := ParseDerivations([]byte(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: %+v", name, got)
		}
		d := got[0]
		out := d.Outputs["out"]
		if d.Path != "/nix/store/wpp4yh4kfnym9w9ckv0r4drv94m00dyf-libfoo-1.0.tar.drv" || out.Path != "/nix/store/nfg95r3hvd4hbni3hv002z5ncns4rmiw-libfoo-1.0.tar" ||
			out.Hash != "9c1e5db5134a142f731b537c49ac8c4c2af17b7e577c40ff630504414c3cedb3" || out.HashAlgo != "sha256" ||
			!slices.Equal(d.InputDrvs, []string{"/nix/store/aaaa4yh4kfnym9w9ckv0r4drv94m00dy-curl.drv"}) || d.Env["url"] != "https://example.org/libfoo-1.0.tar" || d.System != "x86_64-linux" {
			t.Errorf("%s: %+v", name, d)
		}
	}
}

func TestHexHashReadsEveryNixSpelling(t *testing.T) {
	const hex = "9c1e5db5134a142f731b537c49ac8c4c2af17b7e577c40ff630504414c3cedb3"
	for _, h := range []string{
		hex, "sha256:" + hex,
		"sha256-nB5dtRNKFC9zG1N8SayMTCrxe35XfED/YwUEQUw87bM=",         // SRI
		"sha256:1czd7i642105cgzl0z2pgrxz2ajcijn4jz2k3drjy52a2fsms7lw", // Nix base-32 (nix hash to-base32)
		"1czd7i642105cgzl0z2pgrxz2ajcijn4jz2k3drjy52a2fsms7lw",
	} {
		if got := HexHash(h); got != hex {
			t.Errorf("HexHash(%q) = %q", h, got)
		}
	}
	for _, bad := range []string{"", "sha256-!!!", "xyz", "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"} {
		if got := HexHash(bad); got != "" {
			t.Errorf("HexHash(%q) = %q, want nothing", bad, got)
		}
	}
}
