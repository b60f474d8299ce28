#!/usr/bin/env bash
# Update provider and access keys in .env, as the old service's
# update_keys.sh did:
#   ./update_keys.sh ACCESS_API_KEYS OPENAI_API_KEY GOOGLE_API_KEY DEEPSEEK_API_KEY
# Pass "" or - to leave a key unchanged. A running server reloads within
# seconds. Thin wrapper around: go run ./server keys --help
set -euo pipefail
cd "$(dirname "$0")"
args=()
flags=(--access --openai --google --deepseek)
for i in 0 1 2 3; do
  v="${@:$((i+1)):1}"
  if [ -n "$v" ] && [ "$v" != "-" ]; then args+=("${flags[$i]}" "$v"); fi
done
if [ ${#args[@]} -eq 0 ]; then
  echo "usage: $0 ACCESS_API_KEYS OPENAI_API_KEY GOOGLE_API_KEY DEEPSEEK_API_KEY  (\"\" or - leaves one unchanged)" >&2
  exit 2
fi
exec go run ./server keys "${args[@]}"
