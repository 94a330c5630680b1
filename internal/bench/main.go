// Command bench measures acquire's performance figures on this machine and prints each as a ratio
// against a baseline measured in the same run (`make bench`). Timings live here, never in tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
)

// figure is one measured result, with the baseline it is judged against.
type figure struct {
	area, name string
	value      float64
	unit       string
	baseline   float64 // same unit; 0 when the figure stands alone
	baseName   string
	goal       string
	pass       bool
	// lowerIsBetter: the ratio is a cost (time against a baseline time), not a rate.
	lowerIsBetter bool
}

func main() {
	records := flag.Int("verify-records", 100_000, "records in the case the verifier benchmark checks")
	appends := flag.Int("append-records", 10_000, "records appended (with fsync) in the append benchmark")
	instances := flag.String("fleet-instances", "50,500", "fleet sizes (instances of two volumes each) of the fleet benchmark, comma-separated")
	fleetChildSpec := flag.String("fleet-child", "", "internal: run one fleet acquisition in this process and print what it measured")
	only := flag.String("only", "", "run one area: custody, awssim, fleet or export")
	writeFleet := flag.String("write-fleet-scenario", "", "write the fleet scenario as a cloud-range file here, and exit")
	flag.StringVar(&profileDir, "cpuprofile-dir", "", "write a CPU profile of each measured phase here")
	flag.Parse()
	ctx := context.Background()
	if *fleetChildSpec != "" {
		if err := runFleetChild(ctx, *fleetChildSpec); err != nil {
			fmt.Fprintln(os.Stderr, "bench: fleet child:", err)
			os.Exit(1)
		}
		return
	}
	sizes, err := parseSizes(*instances)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *writeFleet != "" {
		if err := writeFleetScenario(*writeFleet, sizes[0]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}

	areas := []struct {
		name string
		run  func() ([]figure, error)
	}{
		{"custody", func() ([]figure, error) { return custodyFigures(ctx, *records, *appends) }},
		{"awssim", func() ([]figure, error) { return awssimFigures(ctx) }},
		{"fleet", func() ([]figure, error) { return fleetFigures(ctx, sizes) }},
		{"export", func() ([]figure, error) { return exportFigures(ctx) }},
	}
	var figs []figure
	for _, a := range areas {
		if *only != "" && *only != a.name {
			continue
		}
		f, err := a.run()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", a.name, err)
			os.Exit(1)
		}
		figs = append(figs, f...)
	}
	print(figs)
	for _, f := range figs {
		if !f.pass {
			os.Exit(1)
		}
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-fleet-instances %q: give fleet sizes like 50,500", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// profileDir, when set, receives a CPU profile per measured phase.
var profileDir string

func startProfile(name string) (stop func()) {
	if profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(profileDir, name+".prof"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// number shows a figure with the digits that matter: 7.6 calls, 41 s, 1250 MiB/s.
func number(v float64) string {
	if v != 0 && v < 10 && v > -10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func print(figs []figure) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tFIGURE\tVALUE\tBASELINE (same run)\tRATIO\tGOAL\t")
	for _, f := range figs {
		base, ratio := "", ""
		if f.baseline > 0 {
			base = fmt.Sprintf("%.0f %s (%s)", f.baseline, f.unit, f.baseName)
			ratio = fmt.Sprintf("%.2f", f.value/f.baseline)
		}
		verdict := "ok"
		if !f.pass {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s %s\t\n", f.area, f.name, number(f.value), f.unit, base, ratio, f.goal, verdict)
	}
	tw.Flush()
}
