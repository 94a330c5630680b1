// Package report builds a report on a custody case for people (Markdown, HTML) and for machines (JSON):
// the case summary, the custody timeline, the evidence and its digests, findings, the verification
// results, and a section of facts in support of a certification of authenticity (in the spirit of US
// FRE 902(13)/(14)) with a place for the qualified person's signature.
//
// Everything shown is read from the records, which are attacker-influenced text: renderers escape every
// string, and the report says whether verification showed that the records can be relied on. The
// records are read leniently (a damaged record becomes a row saying so) so that a case failing
// verification still gets a complete report of what is there.
package report
