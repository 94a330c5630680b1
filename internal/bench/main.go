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
	instances := flag.Int("fleet-instances", 50, "instances (of two volumes each) in the fleet benchmark")
	only := flag.String("only", "", "run one area: custody, awssim, fleet or export")
	writeFleet := flag.String("write-fleet-scenario", "", "write the fleet scenario as a cloud-range file here, and exit")
	flag.StringVar(&profileDir, "cpuprofile-dir", "", "write a CPU profile of each measured phase here")
	flag.Parse()
	ctx := context.Background()
	if *writeFleet != "" {
		if err := writeFleetScenario(*writeFleet, *instances); err != nil {
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
		{"fleet", func() ([]figure, error) { return fleetFigures(ctx, *instances) }},
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
		fmt.Fprintf(tw, "%s\t%s\t%.0f %s\t%s\t%s\t%s %s\t\n", f.area, f.name, f.value, f.unit, base, ratio, f.goal, verdict)
	}
	tw.Flush()
}
