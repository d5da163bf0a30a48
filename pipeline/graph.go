package pipeline

import (
	"fmt"
	"time"
)

// graph is a validated task graph: indices, dependents, and each task's remaining chain.
type graph struct {
	tasks      []Task
	index      map[string]int
	dependents [][]int
	waiting    []int           // per task: needs not yet finished
	chain      []time.Duration // per task: its Cost plus the longest chain of Costs (or its Tail) after it
}

// newGraph checks tasks (unique IDs, known needs, no cycle) and computes every task's
// remaining chain.
func newGraph(tasks []Task) (*graph, error) {
	g := &graph{tasks: tasks, index: make(map[string]int, len(tasks)),
		dependents: make([][]int, len(tasks)), waiting: make([]int, len(tasks)),
		chain: make([]time.Duration, len(tasks))}
	for i, t := range tasks {
		if _, dup := g.index[t.ID]; dup {
			return nil, fmt.Errorf("scheduling: duplicate task %q", t.ID)
		}
		g.index[t.ID] = i
	}
	for i, t := range tasks {
		for _, n := range t.Needs {
			j, ok := g.index[n]
			if !ok {
				return nil, fmt.Errorf("scheduling: task %q needs unknown task %q", t.ID, n)
			}
			g.dependents[j] = append(g.dependents[j], i)
			g.waiting[i]++
		}
	}
	return g, g.chains()
}

// chains computes every task's remaining chain by depth-first search over dependents,
// reporting a cycle as an error.
func (g *graph) chains() error {
	const (
		unseen = iota
		visiting
		done
	)
	state := make([]int, len(g.tasks))
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("scheduling: task %q needs itself through a cycle", g.tasks[i].ID)
		}
		state[i] = visiting
		longest := g.tasks[i].Tail
		for _, d := range g.dependents[i] {
			if err := visit(d); err != nil {
				return err
			}
			longest = max(longest, g.chain[d])
		}
		g.chain[i] = g.tasks[i].Cost + longest
		state[i] = done
		return nil
	}
	for i := range g.tasks {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}
