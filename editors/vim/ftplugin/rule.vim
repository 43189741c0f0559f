" Vim filetype plugin for promo campaign rules (.rule)
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal comments=:# commentstring=#\ %s
setlocal formatoptions-=t formatoptions+=croql
setlocal expandtab shiftwidth=4 softtabstop=4
" `{ ... }` blocks (campaigns, examples) fold by syntax; start with everything open.
setlocal foldmethod=syntax foldlevel=99

let b:undo_ftplugin = 'setlocal comments< commentstring< formatoptions< expandtab< '
      \ . 'shiftwidth< softtabstop< foldmethod< foldlevel<'
