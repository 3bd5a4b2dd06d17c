package main

import "boxoffice.dev/boxoffice/shard"

func init() {
	register("shard", "the seat-locking server of one showtime", shard.Main)
}
