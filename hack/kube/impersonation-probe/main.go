// Command impersonation-probe shows, byte for byte, the impersonation header lines that
// client-go's own transport (rest.HTTPClientFor with rest.Config.Impersonate) writes for an
// identity. It is the reference the Python SDK's header lines are compared against.
//
// It reads a stream of JSON identities on stdin, one document each:
//
//	{"user": "alice", "uid": "u-1", "groups": ["dev", "ops,qa"], "extra": {"example.com/k": ["v"]}}
//
// and writes one JSON line per identity on stdout.
//
// Capture mode (the default): the probe listens on a loopback port of its own, sends one
// GET /api through client-go to it over plain HTTP/1.1 and prints what arrived on the socket:
//
//	{"impersonate": [[name_b64, value_b64], ...], "header_block": b64}
//
// "impersonate" holds every header line whose name starts with "Impersonate-" (any case), in
// the order the bytes arrived, split at the first ':' with the single space client-go writes
// after it removed; "header_block" is every header line as received (request line excluded).
// When client-go refuses to send the request (for example a CR or LF in a value), the line is
// {"error": "..."}.
//
// Server mode (--url): the same transport POSTs a SelfSubjectReview to that API server
// (--token, --ca-file) and prints {"status": code, "proto": "HTTP/2.0", "body": <the server's
// JSON answer>}: what a real kube-apiserver reads from client-go's request. Over TLS client-go
// speaks HTTP/2 when the server offers it; HTTP/2 carries header values untrimmed and names
// in lower case, HTTP/1.1 (capture mode) trims the values' surrounding whitespace.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

type identity struct {
	User   string              `json:"user"`
	UID    string              `json:"uid"`
	Groups []string            `json:"groups"`
	Extra  map[string][]string `json:"extra"`
}

func (id identity) impersonation() rest.ImpersonationConfig {
	return rest.ImpersonationConfig{UserName: id.User, UID: id.UID, Groups: id.Groups, Extra: id.Extra}
}

const selfSubjectReviews = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

func main() {
	url := flag.String("url", "", "send a SelfSubjectReview to this API server instead of capturing")
	token := flag.String("token", "", "bearer token for --url")
	caFile := flag.String("ca-file", "", "CA bundle for --url")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	flag.Parse()

	var listener net.Listener
	if *url == "" {
		var err error
		listener, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("listen: %v", err)
		}
		defer func() { _ = listener.Close() }()
	}

	decoder := json.NewDecoder(bufio.NewReader(os.Stdin))
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for {
		var id identity
		if err := decoder.Decode(&id); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			fail("stdin: %v", err)
		}
		var result any
		if *url != "" {
			result = review(*url, *token, *caFile, *timeout, id)
		} else {
			result = capture(listener, *timeout, id)
		}
		if err := out.Encode(result); err != nil {
			fail("stdout: %v", err)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "impersonation-probe: "+format+"\n", args...)
	os.Exit(2)
}

// capture sends one request through client-go to the probe's own listener and returns the
// header lines that arrived.
func capture(listener net.Listener, timeout time.Duration, id identity) map[string]any {
	config := &rest.Config{
		Host:        "http://" + listener.Addr().String(),
		Impersonate: id.impersonation(),
		Timeout:     timeout,
	}
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	defer client.CloseIdleConnections()

	received := make(chan []byte, 1)
	go func() {
		received <- acceptOne(listener, timeout)
	}()
	response, sendErr := client.Get(config.Host + "/api")
	if sendErr == nil {
		_, _ = io.Copy(io.Discard, response.Body)
		_ = response.Body.Close()
	} else {
		// Nothing was written: wake the accept with a connection of our own.
		if conn, err := net.Dial("tcp", listener.Addr().String()); err == nil {
			_ = conn.Close()
		}
	}
	head := <-received
	if sendErr != nil {
		return map[string]any{"error": sendErr.Error()}
	}
	return describe(head)
}

// acceptOne reads one request head from the next connection and answers 200 with "{}".
func acceptOne(listener net.Listener, timeout time.Duration) []byte {
	conn, err := listener.Accept()
	if err != nil {
		return nil
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var head []byte
	buf := make([]byte, 64*1024)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := conn.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return nil
		}
	}
	head = head[:bytes.Index(head, []byte("\r\n\r\n"))]
	_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
		"Content-Length: 2\r\nConnection: close\r\n\r\n{}"))
	return head
}

func describe(head []byte) map[string]any {
	if head == nil {
		return map[string]any{"error": "no request arrived"}
	}
	lines := bytes.Split(head, []byte("\r\n"))[1:] // drop the request line
	impersonate := [][2]string{}
	for _, line := range lines {
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !strings.HasPrefix(strings.ToLower(string(name)), "impersonate-") {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		impersonate = append(impersonate, [2]string{b64(name), b64(value)})
	}
	return map[string]any{
		"impersonate":  impersonate,
		"header_block": b64(bytes.Join(lines, []byte("\r\n"))),
	}
}

// review asks a real API server who client-go's impersonation headers make us.
func review(url, token, caFile string, timeout time.Duration, id identity) map[string]any {
	config := &rest.Config{
		Host:            url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
		Impersonate:     id.impersonation(),
		Timeout:         timeout,
	}
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	defer client.CloseIdleConnections()
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	response, err := client.Post(strings.TrimRight(url, "/")+selfSubjectReviews,
		"application/json", strings.NewReader(body))
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	defer func() { _ = response.Body.Close() }()
	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var decoded any
	if json.Unmarshal(raw, &decoded) != nil {
		decoded = string(raw)
	}
	return map[string]any{"status": response.StatusCode, "proto": response.Proto, "body": decoded}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
