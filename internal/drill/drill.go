package drill

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Options configures a drill.
type Options struct {
	Env   string // environment name in the report ("local")
	By    string // who ran it
	Buddy string
	// DatabaseURL is a superuser DSN for the Postgres phases; "" skips them.
	DatabaseURL string
	// RedisURL is the Redis for the flush phase; "" skips it.
	RedisURL string
	// DatabaseConfigured and RedisConfigured say the operator named the
	// service (a variable, a flag or a file), as opposed to a local default
	// being probed: a configured service that cannot be reached fails its
	// phases, loudly; an unconfigured one that is absent skips them.
	DatabaseConfigured, RedisConfigured bool
	// Version is the tool's version, recorded in the report.
	Version string
	// Location is the zone every time in the report is shown in (default
	// time.Local); its name is printed next to the times.
	Location *time.Location
	// Instances is the number of API instances in the JWT phase (default 4).
	Instances int
	// Clients is the number of concurrent API clients (default 8).
	Clients int
	// Rows is the number of rows in the field-encryption phases (default 2000).
	Rows int
	// Only, when set, runs just the phases with these IDs (see PhaseIDs).
	Only []string
	// Progress receives one line per phase event; nil discards.
	Progress io.Writer
	// Now is the clock that payment deadlines and provider fixtures (their
	// dates and day-prefixed ids) are read from; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Env == "" {
		o.Env = "local"
	}
	if o.By == "" {
		o.By = "rotate drill"
	}
	if o.Buddy == "" {
		o.Buddy = "(none: local drill)"
	}
	if o.Instances <= 0 {
		o.Instances = 4
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.Rows <= 0 {
		o.Rows = 2000
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Location == nil {
		o.Location = time.Local
	}
}

// step is one phase of the drill: it fills p and returns an error when the
// phase failed. It may mark p skipped with a reason.
type step struct {
	id, name, class string
	run             func(ctx context.Context, o *Options, p *Phase) error
}

// steps are the drill's phases, in order.
var steps = []step{
	{"jwt", "JWT staged rotation under load", "jwt", jwtStaged},
	{"jwt-single-step", "JWT runbook single-step roll (comparison)", "jwt", jwtSingleStep},
	{"payment", "Payment secret rotation with IPN retries", "payment", paymentRotation},
	{"field", "Field key rotation, in-memory store", "field", fieldInMemory},
	{"field-pg", "Field key re-encryption, real Postgres table", "field", fieldPostgres},
	{"redis", "Incident session flush, real Redis", "jwt", redisFlush},
	{"db", "Database password rotation, real Postgres", "db", pgRoleRotation},
	{"redis-password", "Redis password rotation, private Redis under a live pool", "redis", redisPassword},
}

// PhaseIDs lists the phases' IDs in the order they run.
func PhaseIDs() []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.id
	}
	return ids
}

func (o *Options) wants(id string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, x := range o.Only {
		if x == id {
			return true
		}
	}
	return false
}

// Run runs every phase in order and returns the report. A failing phase does
// not stop the others; Report.OK says whether all passed or were skipped.
func Run(ctx context.Context, o Options) *Report {
	o.defaults()
	r := &Report{Env: o.Env, By: o.By, Buddy: o.Buddy, Started: time.Now(), Version: o.Version, Location: o.Location}
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		if !o.wants(s.id) {
			continue
		}
		p := &Phase{ID: s.id, Name: s.name, Class: s.class, now: time.Now, Started: time.Now()}
		fmt.Fprintf(o.Progress, "drill: %s…\n", s.name)
		err := s.run(ctx, &o, p)
		p.Ended = time.Now()
		switch {
		case err != nil:
			p.Outcome, p.Reason = Failed, oneLine(err.Error())
		case p.Outcome == "":
			p.Outcome = Passed
		}
		fmt.Fprintf(o.Progress, "drill: %s: %s %s\n", s.name, p.Outcome, p.Reason)
		r.Phases = append(r.Phases, p)
	}
	r.Ended = time.Now()
	return r
}

// skip marks p skipped with reason.
func skip(p *Phase, format string, args ...any) error {
	p.Outcome, p.Reason = Skipped, oneLine(fmt.Sprintf(format, args...))
	return nil
}

// absent decides what an unreachable service means for a phase: when the
// operator configured it, the phase fails (returned error); when only a
// local default was probed, the phase is skipped.
func absent(p *Phase, configured bool, u errUnreachable, what string) error {
	if configured {
		return fmt.Errorf("%v (%s is configured: the drill does not skip it)", u, what)
	}
	return skip(p, "%s not configured and no local server answered (%v)", what, u)
}

// oneLine flattens a (multi-line) error so it fits one Markdown line and
// one table cell: whitespace runs become one space, "|" is escaped.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}
