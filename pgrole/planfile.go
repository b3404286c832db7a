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
	"time"

	"github.com/goodgo/rotation/pgrole/scram"
)

// ErrCatalogChanged: the catalog differs from what was introspected when the
// plan file was written; plan again and review the new plan.
var ErrCatalogChanged = errors.New("pgrole: the catalog changed since the plan was made")

// ErrPlanEdited: the plan file's content is not what was written (its
// digest does not match): plan again rather than edit a plan file.
var ErrPlanEdited = errors.New("pgrole: the plan file was edited after it was written")

// ErrPlanUsed: the plan file was applied before (its rotation is unfinished,
// was retired or was rolled back); a plan file is applied once.
var ErrPlanUsed = errors.New("pgrole: the plan file was already applied")

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
	ValidUntil    string               `json:"valid_until,omitempty"`
	AdminDatabase string               `json:"admin_database"`
	Verifier      string               `json:"verifier"`
	Fingerprint   string               `json:"verifier_fingerprint"`
	CatalogDigest string               `json:"catalog_digest"`
	SQL           map[PhaseName]string `json:"sql"`
	// FileDigest is the SHA-256 of the file's content with this field
	// empty: an edited file is told from a changed catalog, and it is the
	// plan's id in the rotation's record (single use).
	FileDigest string `json:"file_digest,omitempty"`
}

// digest returns the SHA-256 of f with FileDigest empty.
func (f planFile) digest() string {
	f.FileDigest = ""
	b, _ := json.Marshal(f)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
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
	if p.validUntilGiven {
		f.ValidUntil = p.validUntil // a copied one is read from the catalog again
	}
	f.FileDigest = f.digest()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// ReadPlan reads a plan file and rebuilds its plan against the catalog as it
// is now: refused with ErrPlanEdited if the file's content is not what was
// written, with ErrPlanUsed if it was applied before (a plan file is
// single-use: its rotation is unfinished, retired or rolled back), with
// ErrCatalogChanged if the role's catalog differs from what was
// introspected when it was written or the rebuilt SQL is not the SQL
// written. The plan uses the file's verifier, so
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
	if f.FileDigest != "" && f.FileDigest != f.digest() {
		return nil, fmt.Errorf("%w: its content does not match the digest written with it (%.16s…); run rotate pg plan --out again and review the new plan instead of editing one", ErrPlanEdited, f.FileDigest)
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
		ReassignTo: f.ReassignTo, Incident: f.Incident, Resume: f.Resume, ValidUntil: f.ValidUntil, planID: f.FileDigest}
	if err := a.checkStateAccess(ctx); err != nil {
		return nil, err
	}
	if f.FileDigest != "" {
		if err := a.checkPlanUnused(ctx, f); err != nil {
			return nil, err
		}
	}
	st, err := a.Rotation(ctx, f.Role)
	if err != nil {
		return nil, err
	}
	if err := resumeFromState(st, &opts, a.cfg.Database); err != nil {
		return nil, err
	}
	if opts.Verifier.Fingerprint() != v.Fingerprint() {
		return nil, fmt.Errorf("%w: the unfinished rotation of %q has verifier fp=%s, the plan file fp=%s", ErrBadPlan, f.Role, opts.Verifier.Fingerprint(), v.Fingerprint())
	}
	p, err := a.buildPlan(ctx, old, opts)
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

// checkPlanUnused refuses a plan file that was applied before.
func (a *Admin) checkPlanUnused(ctx context.Context, f planFile) error {
	var history bool
	if err := a.conn.QueryRow(ctx, `SELECT to_regclass('`+historyTable+`') IS NOT NULL AND to_regclass('`+stateTable+`') IS NOT NULL`).Scan(&history); err != nil || !history {
		return err
	}
	outcome, at, err := a.planUse(ctx, f.FileDigest)
	if err != nil {
		return fmt.Errorf("pgrole: read the rotation history: %w", classify(err))
	}
	switch outcome {
	case "":
		return nil
	case "unfinished":
		return fmt.Errorf("%w: its rotation %q → %q (started %s) is unfinished; continue it with Resume (rotate pg apply --role %s --resume) or roll it back",
			ErrPlanUsed, f.Role, f.New, at.UTC().Format(time.RFC3339), f.Role)
	default:
		return fmt.Errorf("%w: its rotation %q → %q (started %s) was %s; a plan file is applied once: make a new one (rotate pg plan --out) for another rotation",
			ErrPlanUsed, f.Role, f.New, at.UTC().Format(time.RFC3339), outcome)
	}
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
