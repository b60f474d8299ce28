package keyscli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmbridge/llmbridge/internal/keys"
)

// printKeys writes keys as an aligned table or as JSON; never a secret.
func printKeys(w io.Writer, format string, list []*keys.Key, spend map[string]keys.Spend, now time.Time) error {
	if format == "json" {
		type view struct {
			*keys.Key
			Spend keys.Spend `json:"spend"`
		}
		out := make([]view, len(list))
		for i, k := range list {
			out[i] = view{k, spend[k.ID]}
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if format != "table" {
		return fmt.Errorf("keys: --format %q: use table or json", format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tLAST4\tMODELS\tRPM\tTPM\tPARALLEL\tDAY $\tMONTH $\tSPENT TODAY $\tSTATE")
	for _, k := range list {
		models := strings.Join(k.Models, ",")
		if models == "" {
			models = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t…%s\t%s\t%d\t%d\t%d\t%g\t%g\t%g\t%s\n", k.ID, k.Name, k.Owner, k.Last4, models, k.RPM, k.TPM, k.MaxParallel,
			k.DailyBudgetUSD, k.MonthlyBudgetUSD, spend[k.ID].TodayUSD, state(k, now))
	}
	return tw.Flush()
}

// state says whether k works at now, and until when.
func state(k *keys.Key, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked " + k.RevokedAt.Format(time.DateOnly)
	case !k.Active(now):
		return "expired"
	case k.ExpiresAt != nil:
		return "until " + k.ExpiresAt.Format(time.RFC3339)
	}
	return "active"
}
