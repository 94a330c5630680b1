// Package analysis holds what happens after acquisition: exporting evidence to an analyst's
// workstation (package export) and reporting on a case for people and courts (package report).
package analysis
