// Package demo holds the test that runs `make demo`'s script on the cloud range, as a newcomer would.
package demo
