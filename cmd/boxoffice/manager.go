package main

import "boxoffice.dev/boxoffice/internal/manager"

func init() {
	register("manager", "run the operator: controllers and webhooks", manager.Main)
}
