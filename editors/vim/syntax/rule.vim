" Vim syntax file
" Language:    promo campaign rules (.rule) — docs/language.md of the promo sources
" Filenames:   *.rule
" Install:     copy editors/vim/{syntax,ftdetect,ftplugin} into ~/.vim/

if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match
syn sync minlines=200

" Blocks: transparent, only for folding (campaigns, examples, customer { }).
syn region ruleBlock start='{' end='}' transparent fold contains=TOP

" Declarations and their names.
syn keyword ruleDeclaration campaign set group nextgroup=ruleName skipwhite
syn match   ruleName contained '\<[a-z_][a-z0-9_]*\>'

" Clause and example keywords.
syn keyword ruleKeyword priority combine with stop active hours stores channel card
syn keyword ruleKeyword segment code when then limit per budget partial example expect
syn keyword ruleKeyword if where from applied tiebreak benefit region segments
syn keyword ruleKeyword points_paid
" Rewards.
syn keyword ruleReward  discount price buy get free at off bundle points of paid on each
syn keyword ruleReward  coupon message spend_limit activate expire
syn keyword ruleUnit    day week weeks month
" `days` is the clause and the unit of a duration (`30 days`): matches, not keywords.
syn match   ruleKeyword '\<days\>'
syn match   ruleUnit    '\(\d\s\+\)\@<=days\=\>'
" Enumeration members and combine modes.
syn keyword ruleConstant mon tue wed thu fri sat sun pos online cash credit bonus mixed
syn keyword ruleLogical  and or not in
" Facts.
syn keyword ruleFact    total original_total store time date weekday attr tier birthday
syn keyword ruleFact    within registered id sku category brand qty original_price amount
syn keyword ruleFact    excluded payment
syn keyword ruleBuiltin receipt customer lines line

" Words that are also functions are matches, not keywords (a keyword would win at the
" same position): `any` of `combine any` vs `any(lines ...)`, `history` of an example
" vs `history.sum(...)`. The later definition wins, so the functions come last.
syn match ruleConstant '\<\(any\|none\)\>'
syn match ruleKeyword  '\<history\>'
syn match ruleFunction '\<\(sum\|count\|any\|distinct\)\ze\s*('
syn match ruleFunction '\<history\.\(sum\|count\|visits\)\>'

syn match ruleOperator '==\|!=\|<=\|>=\|<\|>\|\.\.\|=\|+\|\*\|-'

" Literals: later definitions win at the same position, so general ones come first.
syn match ruleNumber   '\<\d\+\(_\d\+\)*\>'
syn match ruleFloat    '\<\d\+\(_\d\+\)*\.\d\+\>'
syn match ruleMoney    '\(\<\(price\|for\|discount\|budget\|points_paid\|total\|final\|spend_limit\)\s\+\)\@<=\d\+\(_\d\+\)*\(\.\d\+\)\=\>[%.]\@!'
syn match rulePercent  '\<\d\+\(_\d\+\)*\(\.\d\+\)\=%'
syn match ruleTime     '\<\d\{1,2}:\d\d\>'
syn match ruleDate     '\<\d\{4}-\d\d-\d\d\>'
syn match ruleDateTime '\<\d\{4}-\d\d-\d\dT\d\d:\d\d\(:\d\d\)\=\>'

syn region ruleString start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ contains=ruleEscape
syn match  ruleEscape contained +\\[\\"nt]+

syn keyword ruleTodo contained TODO FIXME XXX NOTE
syn match   ruleComment '#.*$' contains=ruleTodo,@Spell

hi def link ruleDeclaration Structure
hi def link ruleName        Function
hi def link ruleKeyword     Keyword
hi def link ruleReward      Statement
hi def link ruleUnit        Type
hi def link ruleConstant    Constant
hi def link ruleLogical     Operator
hi def link ruleOperator    Operator
hi def link ruleFact        Identifier
hi def link ruleBuiltin     Special
hi def link ruleFunction    Function
hi def link ruleNumber      Number
hi def link ruleFloat       Float
hi def link ruleMoney       Number
hi def link rulePercent     Number
hi def link ruleTime        Constant
hi def link ruleDate        Constant
hi def link ruleDateTime    Constant
hi def link ruleString      String
hi def link ruleEscape      SpecialChar
hi def link ruleTodo        Todo
hi def link ruleComment     Comment

let b:current_syntax = 'rule'
let &cpo = s:cpo_save
unlet s:cpo_save
