package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/pgstore"
	"github.com/goodgo/rotation/fingerprint"
	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/keygen"
	"github.com/goodgo/rotation/secretenv"
)

// The staged field-key rotation (docs/rotation-procedures.md
// "FIELD_ENCRYPTION_KEY") on a secrets directory:
//
//	rotate field stage   --dir D                 new key into FIELD_ENCRYPTION_KEY_NEXT (decrypt only)
//	rotate field promote --dir D --fleet URL,...  NEXT → primary, primary → front of _PREVIOUS
//	rotate field reencrypt …                      rewrap every value (field.go)
//	rotate field retire  --dir D --table T --column C…   drop previous keys the census shows unused

func init() {
	fieldSubs["stage"] = command{name: "stage", summary: "write a new key into FIELD_ENCRYPTION_KEY_NEXT in --dir", run: runFieldStage}
	fieldSubs["promote"] = command{name: "promote", summary: "NEXT becomes FIELD_ENCRYPTION_KEY, the old one joins _PREVIOUS, after a fleet check", run: runFieldPromote}
	fieldSubs["retire"] = command{name: "retire", summary: "drop previous keys once the census shows no value under them", run: runFieldRetire}
}

const fieldRing = "field"

const dirFlagUsage = "read FIELD_ENCRYPTION_KEY* from files in this directory (a mounted secret) instead of the environment"

// fieldSource is the directory when --dir is given, else the environment.
func fieldSource(env *Env, dir string) secretenv.Source {
	if dir != "" {
		return secretenv.Dir(dir)
	}
	return env.Vars
}

var fieldVars = []string{fieldcrypt.EnvKeyNext, fieldcrypt.EnvKey, fieldcrypt.EnvKeyPrevious}

// fieldSlots describes a field keyring the way a FleetReport does (ring
// "field"), for the fleet check and for instances that report their field
// keys through jwtkeys.FleetOptions.Extra.
func fieldSlots(r *fieldcrypt.Keyring) []jwtkeys.FleetSlot {
	out := []jwtkeys.FleetSlot{{Ring: fieldRing, Slot: secretenv.SlotCurrent, Var: fieldcrypt.EnvKey, State: jwtkeys.StateSigning, Fingerprint: r.Primary().String()}}
	if id, ok := r.Next(); ok {
		out = append(out, jwtkeys.FleetSlot{Ring: fieldRing, Slot: secretenv.SlotNext, Var: fieldcrypt.EnvKeyNext, State: jwtkeys.StateStaged, Fingerprint: id.String()})
	} else {
		out = append(out, jwtkeys.FleetSlot{Ring: fieldRing, Slot: secretenv.SlotNext, Var: fieldcrypt.EnvKeyNext, State: jwtkeys.StateEmpty})
	}
	prev := r.Previous()
	if len(prev) == 0 {
		out = append(out, jwtkeys.FleetSlot{Ring: fieldRing, Slot: secretenv.SlotPrevious, Var: fieldcrypt.EnvKeyPrevious, State: jwtkeys.StateEmpty})
	}
	for _, id := range prev {
		out = append(out, jwtkeys.FleetSlot{Ring: fieldRing, Slot: secretenv.SlotPrevious, Var: fieldcrypt.EnvKeyPrevious, State: jwtkeys.StateVerifying, Fingerprint: id.String()})
	}
	return out
}

func fieldWant(r *fieldcrypt.Keyring) fleetWant {
	w := fleetWant{}
	for _, s := range fieldSlots(r) {
		w.add(s.Ring, s.Slot.String(), s.Fingerprint)
	}
	return w
}

func openFieldDir(env *Env, fs *flag.FlagSet, dir string, adopt bool) (secretsDir, map[string]string, int) {
	name := fs.Name()
	if dir == "" {
		return "", nil, missingFlag(fs, "dir")
	}
	d := secretsDir(dir)
	if err := d.check(adopt); err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return "", nil, exitCheck
	}
	vars, err := d.read()
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: %v\n", name, err)
		return "", nil, exitCheck
	}
	env.auditTarget("directory " + absPath(dir))
	return d, vars, exitOK
}

// fieldResult is the JSON of field stage, promote and retire.
type fieldResult struct {
	Command  string   `json:"command"`
	Dir      string   `json:"dir"`
	DryRun   bool     `json:"dry_run"`
	Changes  []change `json:"changes"`
	Primary  string   `json:"primary"`
	Next     string   `json:"next,omitempty"`
	Previous []string `json:"previous"`
}

// generated is as for commitJWT: keys the command generated, hidden in a dry run.
func commitField(env *Env, name string, asJSON bool, dryRun bool, d secretsDir, old, new map[string]string, generated []string) int {
	ring, err := fieldcrypt.LoadKeyring(secretenv.Map(new))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate %s: the new keys would not load (nothing was changed): %v\n", name, err)
		return exitCheck
	}
	changes := fieldChanges(old, new)
	if !dryRun {
		if err := d.write(new, env.now()); err != nil {
			fmt.Fprintf(env.Stderr, "rotate %s: write %s: %v\n", name, d, err)
			return exitCheck
		}
		for _, c := range changes {
			env.auditFingerprint(c.Var, c.Before, c.After)
		}
	}
	res := fieldResult{Command: name, Dir: string(d), DryRun: dryRun, Changes: nonNilChanges(changes), Primary: ring.Primary().String(), Previous: []string{}}
	if id, ok := ring.Next(); ok {
		res.Next = id.String()
	}
	if dryRun && len(generated) > 0 {
		hideGenerated(generated, asJSON, changes, nil)
		if res.Next == fingerprint.OfString(generated[0]) {
			res.Next = generatedShown
			if asJSON {
				res.Next = ""
			}
		}
	}
	for _, id := range ring.Previous() {
		res.Previous = append(res.Previous, id.String())
	}
	if asJSON {
		writeJSON(env.Stdout, res)
		return exitOK
	}
	verb := "changed"
	if dryRun {
		verb = "would change (dry run, nothing written)"
	}
	fmt.Fprintf(env.Stdout, "%s %s:\n", d, verb)
	printChanges(env.Stdout, changes, nil)
	fmt.Fprintln(env.Stdout, ticketHeader(dryRun, generated))
	fmt.Fprintf(env.Stdout, "  field primary   %s\n", res.Primary)
	if res.Next != "" {
		fmt.Fprintf(env.Stdout, "  field next      %s  (staged: decrypt only)\n", res.Next)
	}
	for _, p := range res.Previous {
		fmt.Fprintf(env.Stdout, "  field previous  %s  (decrypt only)\n", p)
	}
	return exitOK
}

// fieldChanges lists the changed field variables; _PREVIOUS, a list, is
// shown as comma-separated fingerprints.
func fieldChanges(old, new map[string]string) []change {
	fps := func(v string, ok bool) string {
		if !ok || v == "" {
			return ""
		}
		var out []string
		for _, k := range strings.Split(v, ",") {
			out = append(out, fingerprint.OfString(k))
		}
		return strings.Join(out, ",")
	}
	var out []change
	for _, n := range fieldVars {
		o, oOK := old[n]
		v, nOK := new[n]
		if oOK == nOK && o == v {
			continue
		}
		out = append(out, change{Var: n, Before: fps(o, oOK), After: fps(v, nOK)})
	}
	return out
}

func runFieldStage(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "field stage", "rotate field stage --dir DIR [--stdin] [--dry-run]\n\n"+
		"Stage step: writes a new key (32 random bytes, base64, unless --stdin gives it) into\n"+
		"FIELD_ENCRYPTION_KEY_NEXT: every instance can decrypt values written under it before any writes\n"+
		"with it. Prints its fingerprint (the key id in the data). Refuses when a key is already staged.")
	dir := fs.String("dir", "", "the secrets directory (required)")
	stdin := fs.Bool("stdin", false, "read the new key from stdin instead of generating it")
	adopt := fs.Bool("adopt", false, "convert a directory of plain files to the kubelet layout")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	d, old, code := openFieldDir(env, fs, *dir, *adopt)
	if code != exitOK {
		return code
	}
	if old[fieldcrypt.EnvKey] == "" {
		fmt.Fprintf(env.Stderr, "rotate field stage: %s is not set in %s: nothing to rotate from\n", fieldcrypt.EnvKey, d)
		return exitCheck
	}
	if v := old[fieldcrypt.EnvKeyNext]; v != "" {
		fmt.Fprintf(env.Stderr, "rotate field stage: %s is already staged (fp=%s): promote it first, or remove it\n", fieldcrypt.EnvKeyNext, fingerprint.OfString(v))
		return exitCheck
	}
	keys, err := newKeys(env, keygen.Class("field"), []string{"field"}, *stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field stage: %v\n", err)
		return exitUsage
	}
	new := copyVars(old)
	new[fieldcrypt.EnvKeyNext] = keys[0]
	var generated []string
	if !*stdin {
		generated = keys
	}
	return commitField(env, "field stage", of.json(env), *dryRun, d, old, new, generated)
}

func runFieldPromote(ctx context.Context, env *Env, args []string) int {
	fs := newFlags(env, "field promote", "rotate field promote --dir DIR (--fleet URL,... | --fleet-file F | --skip-fleet-check) [--dry-run]\n\n"+
		"Promote step: FIELD_ENCRYPTION_KEY_NEXT becomes FIELD_ENCRYPTION_KEY and the old primary goes to the\n"+
		"front of FIELD_ENCRYPTION_KEY_PREVIOUS (decrypt only). Refuses (exit 1) unless every instance reports\n"+
		"the staged key loaded (ring \"field\" of its fleet report). Then run \"rotate field reencrypt\".")
	dir := fs.String("dir", "", "the secrets directory (required)")
	adopt := fs.Bool("adopt", false, "convert a directory of plain files to the kubelet layout")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	ff := addFleetFlags(fs, "fleet")
	skip := fs.Bool("skip-fleet-check", false, "promote without asking the instances")
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	urls, err := ff.list(nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field promote: %v\n", err)
		return exitUsage
	}
	if len(urls) == 0 && !*skip {
		fmt.Fprintln(env.Stderr, "rotate field promote: missing required flag --fleet or --fleet-file (every instance must have loaded NEXT), or --skip-fleet-check")
		return exitUsage
	}
	d, old, code := openFieldDir(env, fs, *dir, *adopt)
	if code != exitOK {
		return code
	}
	cur, err := fieldcrypt.LoadKeyring(secretenv.Map(old))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field promote: %s: %v\n", d, err)
		return exitCheck
	}
	if _, ok := cur.Next(); !ok {
		fmt.Fprintf(env.Stderr, "rotate field promote: %s is not staged: run \"rotate field stage\" first\n", fieldcrypt.EnvKeyNext)
		return exitCheck
	}
	if len(urls) > 0 {
		var w io.Writer = env.Stdout
		if of.json(env) {
			w = env.Stderr
		}
		want := fieldWant(cur)
		fmt.Fprintf(w, "fleet check, expecting %s:\n", describeWant(want))
		if lag := printFleet(w, fleetCheck(ctx, urls, want, *ff.timeout)); len(lag) > 0 {
			fmt.Fprintln(env.Stderr, "rotate field promote: refused (nothing was changed): some instances have not loaded NEXT")
			return exitCheck
		}
	}
	new := copyVars(old)
	new[fieldcrypt.EnvKey] = old[fieldcrypt.EnvKeyNext]
	prev := old[fieldcrypt.EnvKey]
	if p := old[fieldcrypt.EnvKeyPrevious]; p != "" {
		prev += "," + p
	}
	new[fieldcrypt.EnvKeyPrevious] = prev
	delete(new, fieldcrypt.EnvKeyNext)
	return commitField(env, "field promote", of.json(env), *dryRun, d, old, new, nil)
}

func runFieldRetire(ctx context.Context, env *Env, args []string) int {
	var tf tableFlags
	fs := newFlags(env, "field retire", "rotate field retire --dir DIR --columns FILE [--key FP] (--yes | --dry-run)\n\n"+
		"Retire step: removes previous keys (all, or --key FP) from FIELD_ENCRYPTION_KEY_PREVIOUS once the\n"+
		"census of every encrypted column (--columns FILE, the list the job and verify read) shows no value\n"+
		"under them. Refuses (exit 1) otherwise: a key still in use would make its values\n"+
		"unreadable. There is no --incident override: re-encrypt first. Irreversible (the directory keeps\n"+
		"no copy of the key: a value outside the census, in a backup for one, can no longer be read): asks\n"+
		"on a terminal, needs --yes otherwise.")
	adopt := fs.Bool("adopt", false, "convert a directory of plain files to the kubelet layout")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	yes := fs.Bool("yes", false, "confirm: the retired keys are deleted from the directory")
	keyFP := fs.String("key", "", "retire only the previous key with this fingerprint")
	tf.register(fs, false)
	of := addOutputFlags(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 0 {
		return wrongArgs(fs, "no arguments")
	}
	// The census must cover every encrypted column: --columns FILE, the
	// list the job and verify read. One --table cannot see the others, and
	// the key is deleted for good.
	if tf.columns == "" {
		fmt.Fprintln(env.Stderr, "rotate field retire: missing required flag --columns FILE: a key is retired only when no listed column holds a value under it (a census of one --table cannot see the other columns, and the key is deleted for good)")
		fmt.Fprintln(env.Stderr)
		fs.Usage()
		return exitUsage
	}
	list, ok := tf.tables(env, "retire")
	if !ok {
		return exitUsage
	}
	d, old, code := openFieldDir(env, fs, tf.dir, *adopt)
	if code != exitOK {
		return code
	}
	ring, err := fieldcrypt.LoadKeyring(secretenv.Map(old))
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field retire: %s: %v\n", d, err)
		return exitCheck
	}
	prevTexts := []string{}
	if p := old[fieldcrypt.EnvKeyPrevious]; p != "" {
		prevTexts = strings.Split(p, ",")
	}
	var retire []fieldcrypt.KeyID
	var keep []string
	for i, id := range ring.Previous() {
		if *keyFP == "" || id.String() == *keyFP {
			retire = append(retire, id)
		} else {
			keep = append(keep, prevTexts[i])
		}
	}
	if len(retire) == 0 {
		fmt.Fprintf(env.Stderr, "rotate field retire: no previous key to retire in %s\n", d)
		return exitCheck
	}
	dsn, err := pickURL(env, "DATABASE_URL", "", tf.urlFile, "")
	if err == nil && dsn == "" {
		err = fmt.Errorf("set DATABASE_URL or pass --database-url-file")
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "rotate field retire: %v\n", err)
		return exitUsage
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		fmt.Fprintln(env.Stderr, "rotate field retire: DATABASE_URL is not a valid Postgres DSN")
		return exitUsage
	}
	defer pool.Close()
	var inUse []string
	for _, t := range list {
		census, err := pgstore.TakeCensus(ctx, pool, ring, t)
		if err != nil {
			fmt.Fprintf(env.Stderr, "rotate field retire: census: %s\n", oneLine(err))
			return exitCheck
		}
		for _, id := range retire {
			if !census.Retirable(id) {
				inUse = append(inUse, fmt.Sprintf("%s: %s (%d values)", census.Table, id, census.ValuesUnder(id)))
			}
		}
	}
	if len(inUse) > 0 {
		fmt.Fprintf(env.Stderr, "rotate field retire: refused (nothing was changed): values remain under %s: run \"rotate field reencrypt\" first\n",
			strings.Join(inUse, ", "))
		return exitCheck
	}
	if !*dryRun {
		ids := make([]string, len(retire))
		for i, id := range retire {
			ids[i] = id.String()
		}
		if code := confirm(env, "field retire", "previous key "+strings.Join(ids, ", ")+" will be deleted from "+string(d)+"; values under it anywhere else can no longer be decrypted", *yes); code != exitOK {
			return code
		}
	}
	new := copyVars(old)
	if len(keep) == 0 {
		delete(new, fieldcrypt.EnvKeyPrevious)
	} else {
		new[fieldcrypt.EnvKeyPrevious] = strings.Join(keep, ",")
	}
	return commitField(env, "field retire", of.json(env), *dryRun, d, old, new, nil)
}
