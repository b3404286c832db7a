package pgrole

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/goodgo/rotation/pgrole/scram"
)

// ErrCatalogChanged: the catalog differs from what was introspected when the
// plan file was written; plan again and review the new plan.
var ErrCatalogChanged = errors.New("pgrole: the catalog changed since the plan was made")

// planFileVersion is the format of plan files; others are refused.
const planFileVersion = 1

// planFile is what WritePlan stores: the options, the new role's verifier
// (never a password: a break-glass password is drawn when the plan is
// applied), a digest of the introspected catalog and the reviewed SQL of
// the phases apply runs.
type planFile struct {
	Version       int                  `json:"version"`
	Role          string               `json:"role"`
	Strategy      Strategy             `json:"strategy"`
	Stable        string               `json:"stable,omitempty"`
	New           string               `json:"new"`
	Retire        RetireMode           `json:"retire"`
	ReassignTo    string               `json:"reassign_to,omitempty"`
	Incident      bool                 `json:"incident,omitempty"`
	Resume        bool                 `json:"resume,omitempty"`
	AdminDatabase string               `json:"admin_database"`
	Verifier      string               `json:"verifier"`
	Fingerprint   string               `json:"verifier_fingerprint"`
	CatalogDigest string               `json:"catalog_digest"`
	SQL           map[PhaseName]string `json:"sql"`
}

// appliedPhases are the phases a plan file fixes (the rest are checks or
// the caller's).
var appliedPhases = []PhaseName{PhaseCreate, PhaseGrant}

// catalogDigest is the SHA-256 of the introspected snapshot.
func catalogDigest(r *Role) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("pgrole: digest of the catalog: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// CatalogDigest returns the digest of what Plan introspected (empty for a
// plan built with BuildPlan).
func (p *Plan) CatalogDigest() string { return p.digest }

func phaseSQL(p *Plan, name PhaseName) string {
	var out string
	if ph := p.Phase(name); ph != nil {
		for _, s := range ph.Steps {
			out += "[" + s.Database + "] " + s.SQL + ";\n"
		}
	}
	return out
}

// WritePlan writes p to w as a plan file: its options, the new role's
// verifier (sensitive: store the file 0600, as the CLI does), the catalog
// digest and the SQL of the create and grant phases. ReadPlan executes
// exactly it. Only plans made by Admin.Plan can be written.
func WritePlan(w io.Writer, p *Plan) error {
	if p.digest == "" {
		return fmt.Errorf("%w: only a plan made by Admin.Plan (with its catalog digest) can be written", ErrBadPlan)
	}
	f := planFile{Version: planFileVersion, Role: p.Old, Strategy: p.Strategy, Stable: p.Stable, New: p.New, Retire: p.Retire,
		ReassignTo: p.ReassignTo, Incident: p.Incident, Resume: p.resume, AdminDatabase: p.AdminDatabase,
		Verifier: string(p.verifier.Secret().Bytes()), Fingerprint: p.verifier.Fingerprint(), CatalogDigest: p.digest,
		SQL: map[PhaseName]string{}}
	for _, ph := range appliedPhases {
		f.SQL[ph] = phaseSQL(p, ph)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// ReadPlan reads a plan file and rebuilds its plan against the catalog as it
// is now: refused with ErrCatalogChanged if the role's catalog differs from
// what was introspected when it was written, and with ErrBadPlan if the
// rebuilt SQL is not the SQL written. The plan uses the file's verifier, so
// the fingerprint is the one printed at plan time.
func (a *Admin) ReadPlan(ctx context.Context, r io.Reader) (*Plan, error) {
	var f planFile
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: plan file: %v", ErrBadPlan, err)
	}
	if f.Version != planFileVersion {
		return nil, fmt.Errorf("%w: plan file version %d, want %d", ErrBadPlan, f.Version, planFileVersion)
	}
	v, err := scram.Parse(f.Verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: plan file verifier: %w", ErrBadPlan, err)
	}
	if v.Fingerprint() != f.Fingerprint {
		return nil, fmt.Errorf("%w: plan file verifier does not have the fingerprint it names", ErrBadPlan)
	}
	if f.AdminDatabase != a.cfg.Database {
		return nil, fmt.Errorf("%w: the plan was made on database %q, this connection is to %q", ErrBadPlan, f.AdminDatabase, a.cfg.Database)
	}
	if err := ValidateName(f.Role); err != nil {
		return nil, err
	}
	old, err := a.Introspect(ctx, f.Role)
	if err != nil {
		return nil, err
	}
	d, err := catalogDigest(old)
	if err != nil {
		return nil, err
	}
	if d != f.CatalogDigest {
		return nil, fmt.Errorf("%w: role %q: digest %.16s… at plan time, %.16s… now; run rotate pg plan --out again and review it", ErrCatalogChanged, f.Role, f.CatalogDigest, d)
	}
	opts := PlanOptions{Role: f.Role, Strategy: f.Strategy, Stable: f.Stable, New: f.New, Verifier: v, Retire: f.Retire,
		ReassignTo: f.ReassignTo, Incident: f.Incident, Resume: f.Resume}
	if err := a.checkStateAccess(ctx); err != nil {
		return nil, err
	}
	st, err := a.Rotation(ctx, f.Role)
	if err != nil {
		return nil, err
	}
	if err := resumeFromState(st, &opts); err != nil {
		return nil, err
	}
	if opts.Verifier.Fingerprint() != v.Fingerprint() {
		return nil, fmt.Errorf("%w: the unfinished rotation of %q has verifier fp=%s, the plan file fp=%s", ErrBadPlan, f.Role, opts.Verifier.Fingerprint(), v.Fingerprint())
	}
	p, err := BuildPlan(old, a.cfg.Database, opts, a.roleExists(ctx))
	if err != nil {
		return nil, err
	}
	p.digest = d
	for _, ph := range appliedPhases {
		if phaseSQL(p, ph) != f.SQL[ph] {
			return nil, fmt.Errorf("%w: the %s phase would run other SQL than the plan file holds; plan again", ErrCatalogChanged, ph)
		}
	}
	return p, nil
}

// CreatePlanFile writes p to a new file at path, mode 0600 (it holds the
// verifier); an existing file is never overwritten.
func CreatePlanFile(path string, p *Plan) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("pgrole: plan file: %w", err)
	}
	if err := WritePlan(f, p); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
