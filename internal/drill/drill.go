package drill

import (
	"context"
	"fmt"
	"io"
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
	r := &Report{Env: o.Env, By: o.By, Buddy: o.Buddy, Started: time.Now()}
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
			p.Status, p.Reason = Failed, err.Error()
		case p.Status == "":
			p.Status = Passed
		}
		fmt.Fprintf(o.Progress, "drill: %s: %s %s\n", s.name, p.Status, p.Reason)
		r.Phases = append(r.Phases, p)
	}
	r.Ended = time.Now()
	return r
}

// skip marks p skipped with reason.
func skip(p *Phase, format string, args ...any) error {
	p.Status, p.Reason = Skipped, fmt.Sprintf(format, args...)
	return nil
}
