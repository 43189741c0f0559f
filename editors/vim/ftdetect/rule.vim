" promo campaign rules: *.rule files (see editors/vim/README.md in the promo sources)
autocmd BufRead,BufNewFile *.rule set filetype=rule
