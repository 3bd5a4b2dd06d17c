// Package testproc holds the process, port and readiness helpers of the
// repository's tests, benchmarks and dev tools: a free loopback port or
// address, a bounded wait until a URL answers a given status, and a child
// process in its own process group that dies with its parent and can be
// stopped, killed, paused and resumed as a group.
//
// It runs and waits for processes; it decides nothing about them and
// asserts nothing: callers turn its errors into failures.
package testproc
