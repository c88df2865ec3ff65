// Command benchtable reads the output of go test -bench, run with -count n,
// and prints a Markdown table for each group of arms: the median of each
// figure over the n runs, how far the runs strayed from it, and each arm's
// time against the bare handler's and windhover's of the same group.
//
//	go test -run '^$' -bench . -count 6 | go run ./cmd/benchtable
//
// A benchmark's name is its group and its arm, the last element:
// BenchmarkStack/loopback-h1/windhover is the arm windhover of the group
// BenchmarkStack/loopback-h1.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	groups, err := parse(os.Stdin)
	if err == nil && len(groups) == 0 {
		err = fmt.Errorf("no benchmark results in the input")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	write(os.Stdout, groups)
}

// An arm is one benchmark's runs: each unit's values, one per run.
type arm struct {
	name   string
	values map[string][]float64 // "ns/op", "B/op", "allocs/op", "MB/s"
}

type group struct {
	name string
	arms []*arm
}

// procs is the -GOMAXPROCS suffix go test adds to each name.
var procs = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) ([]*group, error) {
	var groups []*group
	byName := map[string]*arm{}
	groupByName := map[string]*group{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procs.ReplaceAllString(f[0], "")
		a := byName[name]
		if a == nil {
			a = &arm{values: map[string][]float64{}}
			byName[name] = a
			g, armName := name, name
			if i := strings.LastIndexByte(name, '/'); i >= 0 {
				g, armName = name[:i], name[i+1:]
			}
			a.name = armName
			gr := groupByName[g]
			if gr == nil {
				gr = &group{name: g}
				groupByName[g] = gr
				groups = append(groups, gr)
			}
			gr.arms = append(gr.arms, a)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", f[0], f[i])
			}
			a.values[f[i+1]] = append(a.values[f[i+1]], v)
		}
	}
	return groups, sc.Err()
}

// median returns the median of vs and the largest distance of one of them
// from it, as a fraction of it.
func median(vs []float64) (m, spread float64) {
	if len(vs) == 0 {
		return 0, 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		m = s[n/2]
	} else {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	if m != 0 {
		spread = max(m-s[0], s[len(s)-1]-m) / m
	}
	return m, spread
}

func (a *arm) median(unit string) float64 {
	m, _ := median(a.values[unit])
	return m
}

func write(w io.Writer, groups []*group) {
	for _, g := range groups {
		var bare, ours float64
		hasMBs := false
		for _, a := range g.arms {
			switch a.name {
			case "bare":
				bare = a.median("ns/op")
			case "windhover":
				ours = a.median("ns/op")
			}
			hasMBs = hasMBs || len(a.values["MB/s"]) > 0
		}
		fmt.Fprintf(w, "#### %s\n\n", g.name)
		fmt.Fprint(w, "| arm | ns/op | ± | × bare | × windhover | B/op | allocs/op |")
		sep := "|---|---:|---:|---:|---:|---:|---:|"
		if hasMBs {
			fmt.Fprint(w, " MB/s |")
			sep += "---:|"
		}
		fmt.Fprintf(w, "\n%s\n", sep)
		for _, a := range g.arms {
			ns, spread := median(a.values["ns/op"])
			vsOurs := ""
			if a.name != "bare" && a.name != "windhover" {
				vsOurs = ratio(ns, ours)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f%% | %s | %s | %s | %s |", a.name, number(ns), 100*spread,
				ratio(ns, bare), vsOurs, number(a.median("B/op")), number(a.median("allocs/op")))
			if hasMBs {
				fmt.Fprintf(w, " %s |", number(a.median("MB/s")))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}

// number prints v with three significant digits at most, whole numbers as
// they are.
func number(v float64) string {
	switch {
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func ratio(v, base float64) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", v/base)
}
