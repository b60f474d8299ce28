package azure_test

import (
	"io"
	"net/http"
	"strings"
)

func copyN(b *strings.Builder, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(b, io.LimitReader(resp.Body, 1<<16))
}
