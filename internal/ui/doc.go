// Package ui is what the program shows a person at a terminal: sizes in
// binary units (Bytes) and the operator commands' one-line progress bar
// (ProgressBar). It takes plain numbers and an io.Writer; it knows nothing
// of the SST, its protocol or its log format.
package ui
