" test_vim.vim — checks editors/vim: *.rule detection, the filetype plugin and the
" syntax groups of keywords, strings, money, percent, dates/times, comments and names.
" Run: vim -N -u NONE -i NONE -es -S test_vim.vim  (writes $VIM_TEST_LOG, exits 1 on failure)
set nocompatible
let s:root = fnamemodify(expand('<sfile>:p'), ':h:h:h')
let &runtimepath = s:root . '/editors/vim,' . &runtimepath
filetype plugin on
syntax on

let s:sample = [
      \ '# Dairy week: 10% off "quoted"',
      \ 'set dairy = category "dairy" and not sku in ["1", "a\"b"]',
      \ 'group discounts, points',
      \ 'campaign dairy_10 "Dairy: 10% off" {',
      \ '    priority 100',
      \ '    combine  any',
      \ '    active   2026-06-01 .. 2026-08-31',
      \ '    days     mon .. fri, sun',
      \ '    hours    22:00 .. 06:00, 9:00 .. 9:30',
      \ '    when     any(lines where dairy) and history.visits(30 days) == 1',
      \ '    then     discount 10% on lines where dairy; price 89.90 on lines where sku "7"',
      \ '    budget   100_000 partial',
      \ '    example "e" {',
      \ '        customer { id "c1" birthday 1950-06-07 }',
      \ '        store 101  time 2026-06-05T10:00',
      \ '        line sku "1" qty 1.5 price 300',
      \ '        expect discount 60 on "1"   # 10% = 60',
      \ '    }',
      \ '}',
      \ ]
let s:file = tempname() . '.rule'
call writefile(s:sample, s:file)
execute 'edit ' . fnameescape(s:file)

let s:errors = []
function! s:check(cond, msg) abort
  if !a:cond
    call add(s:errors, a:msg)
  endif
endfunction

" The syntax group at the first character of the n-th (1-based) match of `pat` on the
" line containing `where`.
function! s:group_at(where, pat, ...) abort
  let nth = a:0 ? a:1 : 1
  let lnum = search('\V' . escape(a:where, '\'), 'cw')
  if lnum == 0
    return '<no line ' . a:where . '>'
  endif
  let col = 0
  for i in range(nth)
    let col = match(getline(lnum), a:pat, col == 0 && i == 0 ? 0 : col + 1)
  endfor
  if col < 0
    return '<no ' . a:pat . '>'
  endif
  return synIDattr(synID(lnum, col + 1, 1), 'name')
endfunction

function! s:expect(where, pat, group, ...) abort
  let got = call('s:group_at', [a:where, a:pat] + a:000)
  call s:check(got ==# a:group, printf('%s / %s: expected %s, got %s', a:where, a:pat, a:group, got))
endfunction

call s:check(&filetype ==# 'rule', 'filetype is ' . &filetype)
call s:check(&commentstring ==# '# %s', 'commentstring is ' . &commentstring)
call s:check(&foldmethod ==# 'syntax', 'foldmethod is ' . &foldmethod)
call s:check(exists('b:current_syntax') && b:current_syntax ==# 'rule', 'syntax loaded')

call s:expect('# Dairy week', '#', 'ruleComment')
call s:expect('# Dairy week', '10%', 'ruleComment')
call s:expect('expect discount 60', '# 10%', 'ruleComment')
call s:expect('set dairy', 'set', 'ruleDeclaration')
call s:expect('set dairy', 'dairy', 'ruleName')
call s:expect('set dairy', '"dairy"', 'ruleString')
call s:expect('set dairy', '\\"', 'ruleEscape')
call s:expect('set dairy', 'category', 'ruleFact')
call s:expect('set dairy', 'and', 'ruleLogical')
call s:expect('campaign dairy_10', 'campaign', 'ruleDeclaration')
call s:expect('campaign dairy_10', 'dairy_10', 'ruleName')
call s:expect('campaign dairy_10', '10%', 'ruleString')
call s:expect('priority 100', 'priority', 'ruleKeyword')
call s:expect('priority 100', '100', 'ruleNumber')
call s:expect('combine  any', 'any', 'ruleConstant')
call s:expect('active   2026', '2026-06-01', 'ruleDate')
call s:expect('active   2026', '\.\.', 'ruleOperator')
call s:expect('days     mon', 'days', 'ruleKeyword')
call s:expect('days     mon', 'mon', 'ruleConstant')
call s:expect('hours    22', '22:00', 'ruleTime')
call s:expect('hours    22', '9:00', 'ruleTime')
call s:expect('when     any', 'when', 'ruleKeyword')
call s:expect('when     any', 'any', 'ruleFunction')
call s:expect('when     any', 'history', 'ruleFunction')
call s:expect('when     any', '30', 'ruleNumber')
call s:expect('when     any', 'days', 'ruleUnit')
call s:expect('then     discount', 'discount', 'ruleReward')
call s:expect('then     discount', '10%', 'rulePercent')
call s:expect('then     discount', '89.90', 'ruleMoney')
call s:expect('budget   100_000', '100_000', 'ruleMoney')
call s:expect('budget   100_000', 'partial', 'ruleKeyword')
call s:expect('birthday 1950', '1950-06-07', 'ruleDate')
call s:expect('time 2026', '2026-06-05T10:00', 'ruleDateTime')
call s:expect('qty 1.5', '1.5', 'ruleFloat')
call s:expect('qty 1.5', '300', 'ruleMoney')
call s:expect('expect discount 60', 'expect', 'ruleKeyword')
call s:expect('expect discount 60', '60', 'ruleMoney')

" folding: the campaign block folds
call s:check(foldlevel(search('priority 100', 'w')) >= 1, 'campaign body is foldable')

call delete(s:file)
let s:log = empty($VIM_TEST_LOG) ? 'vim_test.log' : $VIM_TEST_LOG
call writefile(empty(s:errors) ? ['ok'] : s:errors, s:log)
if empty(s:errors)
  qall!
endif
cquit!
