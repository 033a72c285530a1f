// The least an HTTPS admission server can do in Go: read the body, answer a fixed allowed review. It is
// bench/floor-server.ts written with Go's standard library only (no go.sum, nothing to download), so the
// benchmarks can print what this machine allows a Go server beside what it allows a Node one: the
// reference webhook is written in Go, and a figure of kirsa's reads best as a distance from both floors.
//
// Usage: go-floor CERT KEY. It listens on a free loopback port and prints {"msg":"listening","port":N}
// on stdout, as the Node floor does, so the same harness starts either.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
)

// The same bytes the Node floor answers with.
const answer = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"fixed","allowed":true}}`

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-floor CERT KEY")
		os.Exit(2)
	}
	pair, err := tls.LoadX509KeyPair(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-floor:", err)
		os.Exit(1)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-floor:", err)
		os.Exit(1)
	}
	body := []byte(answer)
	length := strconv.Itoa(len(body))
	// HTTP/1.1 only: the API server calls webhooks over HTTP/1.1, and the Node floor speaks nothing else.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			header := w.Header()
			header.Set("Content-Type", "application/json")
			header.Set("Content-Length", length)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}},
		Protocols: &protocols,
	}
	fmt.Printf("{\"msg\":\"listening\",\"port\":%d}\n", listener.Addr().(*net.TCPAddr).Port)
	if err := server.ServeTLS(listener, "", ""); err != nil {
		fmt.Fprintln(os.Stderr, "go-floor:", err)
		os.Exit(1)
	}
}
