// Package export downloads an evidence item of a case to a local raw image, through the driver's block
// reader, verified block by block and as a whole against the digest the case recorded, resumably.
package export
