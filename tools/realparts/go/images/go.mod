// The test node's own images, built from source here because no registry is reachable: the sandbox
// ("pause") process, a probe that reports what a pod sees of its token file, and ocipack, which packs a
// static binary into an OCI image archive that `ctr images import` reads. Standard library only.
module kirsa.dev/realparts/images

go 1.26.0
