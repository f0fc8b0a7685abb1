package app

import (
	"context"
	"time"

	"github.com/bsc-sim/bsc/internal/coffee"
	"github.com/bsc-sim/bsc/internal/sup"
)

// The coffee machines are a tree of their own, beside bsc (in the book they
// are another application on the same hardware layer): a crash of a
// machine must not restart the radio side, and vice versa.

func (a *App) coffeeSpec() sup.Spec {
	return sup.Spec{
		Name: "coffee", Strategy: sup.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 60, Reporter: a.reporter,
		Template: sup.ChildSpec{Name: "machine", Kind: sup.Worker, Restart: sup.Transient, Shutdown: 2 * time.Second},
	}
}

func (a *App) startCoffee(ctx context.Context) error {
	a.machines = coffee.NewMachines(nil, coffee.Options{Metrics: a.coffeeMetrics, Log: a.log})
	s, err := sup.Start(ctx, a.coffeeSpec(), a.topExit("coffee"))
	if err != nil {
		return err
	}
	a.machines.Attach(s)
	a.coffee = s
	return nil
}

// Machines is the coffee machine registry.
func (a *App) Machines() *coffee.Machines { return a.machines }
