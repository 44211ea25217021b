package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// InputFile returns the path of a file of n JSON lines of the given size
// (records 0 to n-1) in dir, writing it the first time only: every run
// reads the same bytes.
func InputFile(dir string, n, size int) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("records-%dB-%d.jsonl", size, n))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".records-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	w := bufio.NewWriterSize(tmp, 1<<20)
	var line []byte
	for i := range n {
		line = AppendJSONLine(line[:0], i, size)
		if _, err := w.Write(line); err != nil {
			tmp.Close()
			return "", err
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}
