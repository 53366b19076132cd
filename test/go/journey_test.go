// The API journey through the generated Go client (gen/go), against a real
// tracker at TRACKER_URL with the bearer token TRACKER_TOKEN, once over the
// Connect protocol (HTTP/1.1, the default) and once over gRPC (h2c).
// test/go-client.test.ts starts the server, mints the token and runs this;
// without those two variables it skips.
package journey_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	trackerv1 "github.com/tracker-dev/tracker/gen/go/tracker/v1"
	"github.com/tracker-dev/tracker/gen/go/tracker/v1/trackerv1connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// bearerToken sends the token with every call, unary or streaming; it is the
// README's interceptor.
func bearerToken(token string) connect.ClientInterceptor {
	return func(next connect.ClientFunc) connect.ClientFunc {
		return func(ctx context.Context, spec connect.Spec) (connect.ClientStream, error) {
			// A connect.Client puts a CallInfo on every call's context.
			if info, ok := connect.CallInfoForClientContext(ctx); ok {
				info.RequestHeader().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, spec)
		}
	}
}

type clients struct {
	projects trackerv1connect.ProjectServiceClient
	issues   trackerv1connect.IssueServiceClient
}

func TestJourney(t *testing.T) {
	baseURL, token := os.Getenv("TRACKER_URL"), os.Getenv("TRACKER_TOKEN")
	if baseURL == "" || token == "" {
		t.Skip("TRACKER_URL and TRACKER_TOKEN are not set: npm test runs this against a server of its own (test/go-client.test.ts)")
	}
	// gRPC needs HTTP/2; tracker serves it in cleartext (h2c) on its one port.
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	grpcHTTP := &http.Client{Transport: &http.Transport{Protocols: &h2c}}

	for _, protocol := range []struct {
		name      string
		transport connect.Transport
	}{
		{"Connect", connecthttp.NewTransport(http.DefaultClient, baseURL)},
		{"gRPC", connecthttp.NewTransport(grpcHTTP, baseURL, connecthttp.WithGRPC())},
	} {
		t.Run(protocol.name, func(t *testing.T) {
			client := connect.NewClient(protocol.transport, bearerToken(token))
			walk(t, clients{
				projects: trackerv1connect.NewProjectServiceClient(client),
				issues:   trackerv1connect.NewIssueServiceClient(client),
			})
		})
	}
}

func walk(t *testing.T, c clients) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// Project ids are ^[A-Z][A-Z0-9]{1,9}$; a fresh one per run, so a
	// long-lived server takes the journey more than once.
	projectID := fmt.Sprintf("GO%06X", rand.IntN(1<<24))

	project, err := c.projects.CreateProject(ctx, &trackerv1.CreateProjectRequest{
		ProjectId: projectID,
		Project:   &trackerv1.Project{DisplayName: "The Go journey"},
	})
	must(t, err)
	equal(t, "project name", project.GetName(), "projects/"+projectID)

	issue, err := c.issues.CreateIssue(ctx, &trackerv1.CreateIssueRequest{
		Parent: project.GetName(),
		Issue:  &trackerv1.Issue{Title: "Login fails on Safari", Priority: trackerv1.Issue_PRIORITY_HIGH},
	})
	must(t, err)
	equal(t, "issue name", issue.GetName(), project.GetName()+"/issues/1")
	equal(t, "issue key", issue.GetKey(), projectID+"-1")
	equal(t, "new issue state", issue.GetState(), trackerv1.Issue_STATE_OPEN)

	got, err := c.issues.GetIssue(ctx, &trackerv1.GetIssueRequest{Name: issue.GetName()})
	must(t, err)
	if !proto.Equal(got, issue) {
		t.Fatalf("GetIssue = %v, want what CreateIssue returned, %v", got, issue)
	}

	// list with a filter: only the open issue whose text says "dark"
	_, err = c.issues.CreateIssue(ctx, &trackerv1.CreateIssueRequest{
		Parent: project.GetName(),
		Issue:  &trackerv1.Issue{Title: "Dark mode"},
	})
	must(t, err)
	list, err := c.issues.ListIssues(ctx, &trackerv1.ListIssuesRequest{
		Parent: project.GetName(),
		Filter: &trackerv1.IssueFilter{States: []trackerv1.Issue_State{trackerv1.Issue_STATE_OPEN}, Query: "dark"},
	})
	must(t, err)
	titles := []string{}
	for _, found := range list.GetIssues() {
		titles = append(titles, found.GetTitle())
	}
	equal(t, "filtered titles", fmt.Sprint(titles), fmt.Sprint([]string{"Dark mode"}))

	// update with a mask, guarded by the etag just read
	closed, err := c.issues.UpdateIssue(ctx, &trackerv1.UpdateIssueRequest{
		Issue: &trackerv1.Issue{
			Name:        issue.GetName(),
			State:       trackerv1.Issue_STATE_CLOSED,
			CloseReason: trackerv1.Issue_CLOSE_REASON_COMPLETED,
			Etag:        got.GetEtag(),
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "close_reason"}},
	})
	must(t, err)
	equal(t, "closed state", closed.GetState(), trackerv1.Issue_STATE_CLOSED)
	if closed.GetCloseTime() == nil || closed.GetEtag() == got.GetEtag() {
		t.Fatalf("the closed issue has close_time %v and etag %q (before: %q)", closed.GetCloseTime(), closed.GetEtag(), got.GetEtag())
	}

	// the same etag again is stale now
	_, err = c.issues.UpdateIssue(ctx, &trackerv1.UpdateIssueRequest{
		Issue:      &trackerv1.Issue{Name: issue.GetName(), Title: "Renamed", Etag: got.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	expectCode(t, err, connect.CodeAborted)

	// a bad request names the field in a google.rpc.BadRequest detail
	_, err = c.issues.CreateIssue(ctx, &trackerv1.CreateIssueRequest{
		Parent: project.GetName(),
		Issue:  &trackerv1.Issue{Title: ""},
	})
	details := expectCode(t, err, connect.CodeInvalidArgument)
	var violated []string
	for _, detail := range details {
		if badRequest, ok := detail.(*errdetails.BadRequest); ok {
			for _, violation := range badRequest.GetFieldViolations() {
				violated = append(violated, violation.GetField())
			}
		}
	}
	equal(t, "violated fields", fmt.Sprint(violated), fmt.Sprint([]string{"issue.title"}))

	_, err = c.issues.GetIssue(ctx, &trackerv1.GetIssueRequest{Name: project.GetName() + "/issues/999"})
	expectCode(t, err, connect.CodeNotFound)

	watch(ctx, t, c, project.GetName())
}

// watch opens a stream from now, files an issue and waits for its event.
func watch(ctx context.Context, t *testing.T, c clients, project string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.issues.WatchIssues(ctx, &trackerv1.WatchIssuesRequest{Parent: project})
	must(t, err)
	defer stream.Close()
	// The first message says where the stream starts, and carries no event:
	// once it is here, the watch is listening.
	start, err := stream.Receive()
	must(t, err)
	if start.GetEvent() != nil {
		t.Fatalf("the first message of a watch from now carries event %v", start.GetEvent())
	}

	filed, err := c.issues.CreateIssue(ctx, &trackerv1.CreateIssueRequest{
		Parent: project,
		Issue:  &trackerv1.Issue{Title: "Seen by the watch"},
	})
	must(t, err)
	for {
		message, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			t.Fatal("the watch ended before the new issue's event")
		}
		must(t, err)
		if message.GetEvent() == nil {
			continue // a heartbeat
		}
		equal(t, "event issue", message.GetEvent().GetIssue(), filed.GetName())
		equal(t, "event kind", message.GetEvent().GetKind(), trackerv1.IssueEvent_KIND_ISSUE_CREATED)
		if message.GetPosition() <= start.GetPosition() {
			t.Fatalf("the event's position %d is not past the start %d", message.GetPosition(), start.GetPosition())
		}
		return
	}
}

// expectCode checks that err is a Connect error with code whose ErrorInfo
// says it is tracker's, and returns its details, decoded.
func expectCode(t *testing.T, err error, code connect.Code) []proto.Message {
	t.Helper()
	connectErr, ok := errors.AsType[*connect.Error](err)
	if !ok {
		t.Fatalf("got %v, want a %v error", err, code)
	}
	equal(t, "error code", connectErr.Code(), code)
	var details []proto.Message
	for _, detail := range connectErr.Details() {
		// Decodes any type linked into the binary: errdetails is imported above.
		message, err := connectproto.UnmarshalErrorDetail(detail)
		must(t, err)
		details = append(details, message)
	}
	if !slices.ContainsFunc(details, func(detail proto.Message) bool {
		info, ok := detail.(*errdetails.ErrorInfo)
		return ok && info.GetDomain() == "tracker"
	}) {
		t.Fatalf("the %v error %q has no ErrorInfo of domain tracker: %v", code, connectErr.Message(), details)
	}
	return details
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
