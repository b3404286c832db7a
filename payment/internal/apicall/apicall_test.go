package apicall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var errAPI = errors.New("test API failed")

func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Write([]byte(r.Method + " " + r.Header.Get("Content-Type") + " " + r.Header.Get("X-Api-Key") + " " + string(b)))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 101)))
		case "/404":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"code":"101"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	b, err := Do(ctx, nil, Request{Method: http.MethodPost, URL: srv.URL + "/echo", ContentType: "application/json", Body: []byte(`{}`),
		Header: http.Header{"X-Api-Key": {"k"}}}, errAPI)
	if err != nil || string(b) != "POST application/json k {}" {
		t.Fatalf("echo: %q, %v", b, err)
	}
	if _, err := Do(ctx, nil, Request{Method: http.MethodGet, URL: srv.URL + "/big", Limit: 100}, errAPI); !errors.Is(err, errAPI) || !strings.Contains(err.Error(), "longer than 100") {
		t.Fatalf("a body over the limit: %v", err)
	}
	if b, err := Do(ctx, nil, Request{Method: http.MethodGet, URL: srv.URL + "/big", Limit: 101}, errAPI); err != nil || len(b) != 101 {
		t.Fatalf("a body at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := Do(ctx, nil, Request{Method: http.MethodGet, URL: srv.URL + "/404"}, errAPI); !errors.Is(err, errAPI) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("404 without Accept: %v", err)
	}
	json4xx := func(r *http.Response) bool {
		return r.StatusCode < 500 && r.Header.Get("Content-Type") == "application/json"
	}
	if b, err := Do(ctx, nil, Request{Method: http.MethodGet, URL: srv.URL + "/404", Accept: json4xx}, errAPI); err != nil || string(b) != `{"code":"101"}` {
		t.Fatalf("404 accepted: %q, %v", b, err)
	}
	if _, err := Do(ctx, nil, Request{Method: http.MethodGet, URL: "http://127.0.0.1:1/"}, errAPI); !errors.Is(err, errAPI) {
		t.Fatalf("unreachable: %v", err)
	}
	if _, err := Do(ctx, nil, Request{Method: "BAD METHOD", URL: srv.URL}, errAPI); !errors.Is(err, errAPI) {
		t.Fatalf("bad request: %v", err)
	}
}
