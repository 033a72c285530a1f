// ocipack packs static binaries into a one-layer OCI image archive (an image layout in a tar) that
// `ctr images import` reads, naming the image through the io.containerd.image.name annotation. No
// registry, daemon or builder is involved, and the output is reproducible: every timestamp is zero and
// every file belongs to root.
//
// Usage: ocipack -o OUT.tar -name REF [-user UID:GID] -entrypoint /bin/x SRC:/bin/x [SRC:DEST ...]
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ocipack: "+format+"\n", args...)
	os.Exit(1)
}

// layer builds the image's one filesystem layer: the directories a container runtime expects to mount
// over, then each binary at its destination.
func layer(files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{"dev/": true, "proc/": true, "sys/": true, "etc/": true, "tmp/": true, "var/": true, "var/run/": true}
	dests := make([]string, 0, len(files))
	for dest := range files {
		dests = append(dests, dest)
		for d := path.Dir(dest); d != "/" && d != "."; d = path.Dir(d) {
			dirs[strings.TrimPrefix(d, "/")+"/"] = true
		}
	}
	sortedDirs := make([]string, 0, len(dirs))
	for d := range dirs {
		sortedDirs = append(sortedDirs, d)
	}
	sort.Strings(sortedDirs)
	sort.Strings(dests)
	for _, d := range sortedDirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}))
	}
	for _, dest := range dests {
		data, err := os.ReadFile(files[dest])
		if err != nil {
			fail("%v", err)
		}
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dest, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}))
		_, err = tw.Write(data)
		must(err)
	}
	must(tw.Close())
	return buf.Bytes()
}

func must(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func main() {
	out := flag.String("o", "", "the archive to write")
	name := flag.String("name", "", "the image reference, e.g. localhost/kirsa/pause:1")
	user := flag.String("user", "", "the image's default user, e.g. 65535:65535")
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint")
	flag.Parse()
	if *out == "" || *name == "" || *entrypoint == "" || flag.NArg() == 0 {
		fail("usage: ocipack -o OUT.tar -name REF [-user UID:GID] -entrypoint /bin/x SRC:/bin/x [SRC:DEST ...]")
	}
	files := map[string]string{}
	for _, arg := range flag.Args() {
		src, dest, ok := strings.Cut(arg, ":")
		if !ok || !strings.HasPrefix(dest, "/") {
			fail("want SRC:/absolute/dest, got %q", arg)
		}
		files[dest] = src
	}

	layerBytes := layer(files)
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{*entrypoint}, "User": *user, "Env": []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(layerBytes)}},
		"history":      []map[string]string{{"created_by": "ocipack"}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digest(config), Size: len(config)},
		"layers":        []descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: digest(layerBytes), Size: len(layerBytes)}},
	})
	tag := *name
	if i := strings.LastIndex(tag, ":"); i > strings.LastIndex(tag, "/") {
		tag = tag[i+1:]
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType:   "application/vnd.oci.image.manifest.v1+json",
			Digest:      digest(manifest),
			Size:        len(manifest),
			Annotations: map[string]string{"io.containerd.image.name": *name, "org.opencontainers.image.ref.name": tag},
			Platform:    map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
		}},
	})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	add := func(name string, data []byte) {
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}))
		_, err := tw.Write(data)
		must(err)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	for _, blob := range [][]byte{config, manifest, layerBytes} {
		add("blobs/sha256/"+strings.TrimPrefix(digest(blob), "sha256:"), blob)
	}
	must(tw.Close())
	tmp := *out + ".tmp"
	must(os.WriteFile(tmp, buf.Bytes(), 0o644))
	must(os.Rename(tmp, *out))
}
