package custody

import (
	"encoding/json"
	"fmt"
	"path"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sys/unix"
)

// The writer's cache (CacheDir) holds the Merkle tree of the records as tiles (the layout of
// golang.org/x/mod/sumdb/tlog, 256 hashes a tile), written for the size of each checkpoint, and the
// state the writer left the case in. A writer opening a large case reads a few tiles instead of every
// record: tlog's TileHashReader accepts a tile only if it hashes up to the root a signed checkpoint
// gives, so a damaged or planted cache cannot pass for the tree; the writer then rebuilds it from the
// records. Nothing here is evidence and no manifest lists it.

const tileHeight = 8

// tileCache is a tlog.TileReader over the tiles in the cache, keeping in memory the tiles tlog has
// verified.
type tileCache struct {
	root *caseRoot
	mu   sync.Mutex
	good map[tlog.Tile][]byte
}

func newTileCache(root *caseRoot) *tileCache {
	return &tileCache{root: root, good: map[tlog.Tile][]byte{}}
}

func (t *tileCache) Height() int { return tileHeight }

func (t *tileCache) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		t.mu.Lock()
		data, ok := t.good[tile]
		t.mu.Unlock()
		if !ok {
			var err error
			data, err = t.root.readFile(path.Join(CacheDir, tile.Path()), int64(tile.W)*tlog.HashSize, nil)
			if err != nil {
				return nil, err
			}
		}
		out[i] = data
	}
	return out, nil
}

func (t *tileCache) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, tile := range tiles {
		t.good[tile] = data[i]
	}
}

// writeTiles stores the tiles that change when the tree grows from oldN to newN records.
func writeTiles(root *caseRoot, tree tlog.HashReader, oldN, newN int64) error {
	for _, tile := range tlog.NewTiles(tileHeight, oldN, newN) {
		data, err := tlog.ReadTileData(tile, tree)
		if err != nil {
			return err
		}
		rel := path.Join(CacheDir, tile.Path())
		if err := root.mkdirAll(path.Dir(rel), 0o755); err != nil {
			return err
		}
		if err := root.replace(rel, data); err != nil {
			return err
		}
	}
	return nil
}

// cacheState is what a writer leaves in the cache when it closes a case: how many records it wrote,
// the size the tiles are written for, and the records directory as it left it. When the directory is
// unchanged (the same inode, change and modification times: any record added, removed or renamed since
// changes them), the next writer need not list it to find the last record.
type cacheState struct {
	Records    uint64 `json:"records"`
	Tiles      int64  `json:"tiles"`
	RecordsDir string `json:"recordsDir"`
}

const cacheStateFile = CacheDir + "/state.json"

// recordsDirIdentity is what cacheState compares of the records directory.
func recordsDirIdentity(root *caseRoot) (string, error) {
	d, err := root.dir(RecordsDir)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(d, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d:%d.%09d:%d.%09d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec, st.Mtim.Sec, st.Mtim.Nsec), nil
}

func readCacheState(root *caseRoot) (cacheState, bool) {
	var s cacheState
	data, err := root.readFile(cacheStateFile, 4096, nil)
	if err != nil || json.Unmarshal(data, &s) != nil {
		return cacheState{}, false
	}
	return s, true
}

func writeCacheState(root *caseRoot, s cacheState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := root.mkdirAll(CacheDir, 0o755); err != nil {
		return err
	}
	return root.replace(cacheStateFile, append(data, '\n'))
}
