// probe is the test pod's workload: it reports, as one JSON object, who the container runs as and what it
// can do with the web-identity token file the kubelet projected (its mode and owner as seen inside the
// container, and whether it can be read). The report goes to stdout and to the termination message, so a
// test reads it from the pod's status through the API server.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

type fileInfo struct {
	Path  string `json:"path"`
	Mode  string `json:"mode"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	Error string `json:"error,omitempty"`
}

type report struct {
	UID      int      `json:"uid"`
	GID      int      `json:"gid"`
	Groups   []int    `json:"groups"`
	Env      []string `json:"env"`
	File     fileInfo `json:"file"`
	Target   fileInfo `json:"target"`
	Dir      fileInfo `json:"dir"`
	Readable bool     `json:"readable"`
	ReadErr  string   `json:"readError,omitempty"`
	Token    string   `json:"token,omitempty"`
}

func stat(path string) fileInfo {
	info := fileInfo{Path: path}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		info.Error = err.Error()
		return info
	}
	info.Mode = fmt.Sprintf("%04o", st.Mode&0o7777)
	info.UID, info.GID = st.Uid, st.Gid
	return info
}

func main() {
	path := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE")
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	groups, _ := os.Getgroups()
	r := report{UID: os.Getuid(), GID: os.Getgid(), Groups: groups, File: stat(path), Dir: stat(filepath.Dir(path))}
	for _, name := range []string{"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS"} {
		if v, ok := os.LookupEnv(name); ok {
			r.Env = append(r.Env, name+"="+v)
		}
	}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		r.Target = stat(target)
	}
	if data, err := os.ReadFile(path); err != nil {
		r.ReadErr = err.Error()
	} else {
		r.Readable, r.Token = true, string(data)
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	_ = os.WriteFile("/dev/termination-log", out, 0o644)
	// PROBE_SLEEP keeps the container running (e.g. to watch a token refresh); the default exits at once.
	if d, err := time.ParseDuration(os.Getenv("PROBE_SLEEP")); err == nil {
		time.Sleep(d)
	}
}
