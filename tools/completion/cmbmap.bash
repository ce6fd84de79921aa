# bash completion for cmbmap. Commands and options come from `cmbmap --help`
# and `cmbmap COMMAND --help` at completion time, so they follow the binary.
_cmbmap() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]:-} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words=$(cmbmap --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
    COMPREPLY=($(compgen -W "$words --help --version" -- "$cur"))
  elif [ "$cmd" = run ]; then
    # Complete the program to run and its own arguments.
    if declare -F _command_offset >/dev/null; then _command_offset 2
    else COMPREPLY=($(compgen -c -- "$cur")); fi
  elif [[ $cur == -* ]]; then
    words=$(cmbmap "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$words --help" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _cmbmap cmbmap
