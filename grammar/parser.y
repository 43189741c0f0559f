/*
 * parser.y — stage 2 of the pipeline (lexer -> *parser* -> AST -> checks -> code
 * generation -> bundle). Bison 3.8 turns it into build/gen/parser.c.
 *
 * The whole grammar of docs/language.md. Actions only build AST nodes
 * (compiler/ast.h); names, types and every other rule are checked by sema.
 * Syntax errors are reported as E004 "expected X, found Y" at the offending token and
 * recovered at three levels: declaration, campaign clause, example item. The parser
 * resynchronises at the next keyword that can start one of those (or a closing '}').
 */

%code requires {
#include "ast.h"
#include "parse.h"

typedef struct parse_ctx parse_ctx;
typedef struct parse_list {
    ast_node *head, *tail;
} parse_list;
typedef struct parse_when {
    int32_t act, exp;
} parse_when;
}

%code {
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "strbuf.h"
#include "suggest.h"
#include "xalloc.h"

/* A misspelt keyword (`priorty`) is reported once with its did-you-mean, and the file
 * is parsed again with the keyword in its place, so the rest of the file is checked
 * as if it were fixed: one error per mistake, not a cascade (see parse_file). */
#define PARSE_MAX_SUBST 8

typedef struct parse_subst {
    uint32_t off;     /* the identifier's byte offset */
    int tok;          /* the keyword read in its place */
    uint32_t err_off; /* where the error was; the substitution must move past it */
    char *msg;        /* the diagnostic, reported at the identifier */
} parse_subst;

struct parse_ctx {
    compilation *c;
    uint32_t file;
    lexer lx;
    ast_node *root;
    int prev_tok; /* the token before the lookahead, for "did you mean" */
    src_span prev_span;
    int cur_tok;
    src_span cur_span;
    int nerrors;              /* syntax errors of this parse */
    uint32_t first_err;       /* offset of the first one (UINT32_MAX: none) */
    const parse_subst *subst; /* substitutions of earlier rounds */
    int nsubst;
    int propose;         /* the first error may propose a new one */
    parse_subst pending; /* a new one (msg != NULL) proposed by the first error */
};

static int yylex(YYSTYPE *lval, YYLTYPE *lloc, parse_ctx *ctx) {
    int tok = lex_next(&ctx->lx, &lval->node, lloc);
    for (int i = 0; tok == IDENT && i < ctx->nsubst; i++) {
        if (ctx->subst[i].off != lloc->off) continue;
        diag_report(&ctx->c->diags, DIAG_E004, *lloc, "%s", ctx->subst[i].msg);
        tok = ctx->subst[i].tok;
        lval->node = NULL;
    }
    ctx->prev_tok = ctx->cur_tok;
    ctx->prev_span = ctx->cur_span;
    ctx->cur_tok = tok;
    ctx->cur_span = *lloc;
    return tok;
}

/* Only reached when the parser stack is full (syntax errors go through
 * yyreport_syntax_error). */
static void yyerror(YYLTYPE *loc, parse_ctx *ctx, const char *msg) {
    if (strcmp(msg, "memory exhausted") == 0) msg = "nested too deeply";
    diag_report(&ctx->c->diags, DIAG_E004, *loc, "%s", msg);
}

/* A rule's span runs from its first symbol to the end of its last one; an empty rule
 * sits, zero-wide, right after the symbol before it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                        \
    do {                                                                                   \
        if (N) {                                                                           \
            (Cur) = YYRHSLOC(Rhs, 1);                                                      \
            (Cur).len = YYRHSLOC(Rhs, N).off + YYRHSLOC(Rhs, N).len - YYRHSLOC(Rhs, 1).off; \
        } else {                                                                           \
            (Cur) = YYRHSLOC(Rhs, 0);                                                      \
            (Cur).off += (Cur).len;                                                        \
            (Cur).col += (Cur).len;                                                        \
            (Cur).len = 0;                                                                 \
        }                                                                                  \
    } while (0)

static ast_node *parse_node(parse_ctx *ctx, ast_kind kind, src_span sp) {
    return ast_new(ctx->c->arena, kind, sp);
}

static ast_node *parse_node_op(parse_ctx *ctx, ast_kind kind, int op, src_span sp) {
    ast_node *n = ast_new(ctx->c->arena, kind, sp);
    n->op = (uint16_t)op;
    return n;
}

/*
 * An operator node over a and b (b NULL for a unary one). Past AST_MAX_DEPTH nested
 * operators the expression is refused once (E004, at the operator that goes one too
 * deep) and a is returned in its place, so no later stage recurses deeper.
 */
static ast_node *parse_op(parse_ctx *ctx, ast_kind kind, int op, ast_node *a, ast_node *b,
                          src_span sp) {
    uint32_t d = a ? a->depth : 0;
    if (b && b->depth > d) d = b->depth;
    if (d >= AST_MAX_DEPTH) {
        if (d == AST_MAX_DEPTH)
            diag_report(&ctx->c->diags, DIAG_E004, sp,
                        "expression nested too deeply (more than %d operators in a chain; "
                        "split it into sets, or use `in [...]`)",
                        AST_MAX_DEPTH);
        if (a) a->depth = AST_MAX_DEPTH + 1;
        return a ? a : b;
    }
    ast_node *n = parse_node_op(ctx, kind, op, sp);
    n->a = a;
    n->b = b;
    n->depth = d + 1;
    return n;
}

static ast_node *parse_bin(parse_ctx *ctx, int op, ast_node *a, ast_node *b, src_span sp) {
    return parse_op(ctx, AST_BINOP, op, a, b, sp);
}

static ast_node *parse_fact(parse_ctx *ctx, int op, ast_node *arg, src_span sp) {
    ast_node *n = parse_node_op(ctx, AST_FACT, op, sp);
    if (arg) n->str = arg->str;
    return n;
}

/* An identifier node for a reserved word used as a name or an enumeration member. */
static ast_node *parse_word(parse_ctx *ctx, src_span sp) {
    ast_node *n = parse_node(ctx, AST_IDENT, sp);
    n->str = ast_strndup(ctx->c->arena, ctx->c->files[sp.file].text + sp.off, sp.len);
    return n;
}

static ast_node *parse_field(parse_ctx *ctx, const char *name, ast_node *value, src_span sp) {
    ast_node *n = parse_node(ctx, AST_EX_FIELD, sp);
    n->str = name;
    n->a = value;
    return n;
}

static ast_node *parse_expect(parse_ctx *ctx, int op, ast_node *value, src_span sp) {
    ast_node *n = parse_node_op(ctx, AST_EX_EXPECT, op, sp);
    n->a = value;
    return n;
}

/* An integer literal where the grammar needs a count (priority, limit, buy N). */
static int64_t parse_int(const ast_node *n) { return n ? n->ival : 0; }

static parse_list parse_list1(ast_node *n) {
    parse_list l = {n, n};
    return l;
}

static parse_list parse_list_add(parse_list l, ast_node *n) {
    if (!n) return l;
    if (!l.head)
        l.head = n;
    else
        l.tail->next = n;
    l.tail = n;
    return l;
}

static parse_list parse_list_cat(parse_list a, parse_list b) {
    if (!b.head) return a;
    if (!a.head) return b;
    a.tail->next = b.head;
    a.tail = b.tail;
    return a;
}

static const parse_list PARSE_LIST_EMPTY = {0, 0};
}

%define api.pure full
%locations
%define api.location.type {src_span}
%define parse.error custom
%define parse.lac full
%define lr.default-reduction accepting
%expect 0
%param {parse_ctx *ctx}

%initial-action {
    @$.file = ctx->file;
    @$.line = 1;
    @$.col = 1;
    @$.off = 0;
    @$.len = 0;
}

%union {
    ast_node *node;
    parse_list list;
    int64_t num;
    parse_when when;
}

%token END 0 "end of file"
%token <node> IDENT "identifier" INT "integer" DECIMAL "decimal" PERCENT "percent"
%token <node> STRING "string" DATE "date" TIME "time" DATETIME "date-time"
%token DOTDOT "'..'" EQEQ "'=='" NE "'!='" LE "'<='" GE "'>='"
%token KW_ACTIVATE "'activate'" KW_ACTIVE "'active'" KW_AMOUNT "'amount'" KW_AND "'and'"
%token KW_ANY "'any'" KW_APPLIED "'applied'" KW_AT "'at'" KW_ATTR "'attr'"
%token KW_BENEFIT "'benefit'" KW_BIRTHDAY "'birthday'" KW_BONUS "'bonus'" KW_BRAND "'brand'"
%token KW_BUDGET "'budget'" KW_BUNDLE "'bundle'" KW_BUY "'buy'" KW_CAMPAIGN "'campaign'"
%token KW_CARD "'card'" KW_CASH "'cash'" KW_CATEGORY "'category'" KW_CHANNEL "'channel'"
%token KW_CODE "'code'" KW_COMBINE "'combine'" KW_COUNT "'count'" KW_COUPON "'coupon'"
%token KW_CREDIT "'credit'" KW_CUSTOMER "'customer'" KW_DATE "'date'" KW_DAY "'day'"
%token KW_DAYS "'days'" KW_DISCOUNT "'discount'" KW_DISTINCT "'distinct'" KW_EACH "'each'"
%token KW_EXAMPLE "'example'" KW_EXCLUDED "'excluded'" KW_EXPECT "'expect'"
%token KW_EXPIRE "'expire'" KW_FINAL "'final'" KW_FOR "'for'" KW_FREE "'free'" KW_FRI "'fri'"
%token KW_FROM "'from'" KW_GET "'get'" KW_GROUP "'group'" KW_HISTORY "'history'"
%token KW_HOURS "'hours'" KW_ID "'id'" KW_IF "'if'" KW_IN "'in'" KW_LIMIT "'limit'"
%token KW_LINE "'line'" KW_LINES "'lines'" KW_MESSAGE "'message'" KW_MIXED "'mixed'"
%token KW_MON "'mon'" KW_MONTH "'month'" KW_NONE "'none'" KW_NOT "'not'" KW_OF "'of'"
%token KW_OFF "'off'" KW_ON "'on'" KW_ONLINE "'online'" KW_OR "'or'"
%token KW_ORIGINAL_PRICE "'original_price'" KW_ORIGINAL_TOTAL "'original_total'"
%token KW_PAID "'paid'" KW_PARTIAL "'partial'" KW_PAYMENT "'payment'" KW_PER "'per'"
%token KW_POINTS "'points'" KW_POINTS_PAID "'points_paid'" KW_POS "'pos'" KW_PRICE "'price'"
%token KW_PRIORITY "'priority'" KW_QTY "'qty'" KW_RECEIPT "'receipt'" KW_REGION "'region'"
%token KW_REGISTERED "'registered'" KW_SAT "'sat'" KW_SEGMENT "'segment'"
%token KW_SEGMENTS "'segments'" KW_SET "'set'" KW_SKU "'sku'" KW_SPEND_LIMIT "'spend_limit'"
%token KW_STOP "'stop'" KW_STORE "'store'" KW_STORES "'stores'" KW_SUM "'sum'" KW_SUN "'sun'"
%token KW_THEN "'then'" KW_THU "'thu'" KW_TIEBREAK "'tiebreak'" KW_TIER "'tier'"
%token KW_TIME "'time'" KW_TOTAL "'total'" KW_TUE "'tue'" KW_VISITS "'visits'" KW_WED "'wed'"
%token KW_WEEK "'week'" KW_WEEKDAY "'weekday'" KW_WEEKS "'weeks'" KW_WHEN "'when'"
%token KW_WHERE "'where'" KW_WITH "'with'" KW_WITHIN "'within'"

%left KW_OR
%left KW_AND
%right KW_NOT
%nonassoc EQEQ NE '<' LE '>' GE KW_IN
%left '+' '-'
%left '*'
%precedence UMINUS

%type <list> decls decl group_names clauses name_list day_list hour_list store_list
%type <list> enum_list string_list rewards steps ex_items cust_items line_items list_items
%type <node> campaign opt_title clause name dayspec timerange store_item enum_value
%type <node> reward target opt_on_target step expr primary fact rfact cfact lfact
%type <node> agg_fn hist_fn opt_where duration numlit money list_item list example ex_item
%type <node> cust_item line_item attr_value expectation literal exp_from exp_activate exp_expire
%type <num> weekday period opt_partial dur_unit
%type <when> points_when

%%

/* Lists that hold an `error` alternative are never empty at their start (`decls`
 * rather than `%empty | decls decl`): the state right after the opening token must
 * be able to shift `error`, or recovery would unwind one level too far. */
file
    : %empty
    | decls { ctx->root->a = $1.head; }
    ;

decls
    : decl { $$ = $1; }
    | decls decl { $$ = parse_list_cat($1, $2); }
    ;

decl
    : KW_SET IDENT '=' expr {
        ast_node *n = parse_node(ctx, AST_SET, @2);
        n->str = $2->str;
        n->a = $4;
        $$ = parse_list1(n);
    }
    | KW_GROUP group_names { $$ = $2; }
    | KW_TIEBREAK KW_BENEFIT { $$ = parse_list1(parse_node(ctx, AST_TIEBREAK, @$)); }
    | campaign { $$ = parse_list1($1); }
    | error { $$ = PARSE_LIST_EMPTY; yyerrok; }
    ;

group_names
    : name {
        ast_node *n = parse_node(ctx, AST_GROUP, @1);
        n->str = $1->str;
        $$ = parse_list1(n);
    }
    | group_names ',' name {
        ast_node *n = parse_node(ctx, AST_GROUP, @3);
        n->str = $3->str;
        $$ = parse_list_add($1, n);
    }
    ;

/* Campaign ids and group names may be any word, reserved or not (`group points`). */
name
    : IDENT { $$ = $1; }
    | keyword { $$ = parse_word(ctx, @1); }
    ;

name_list
    : name { $$ = parse_list1($1); }
    | name_list ',' name { $$ = parse_list_add($1, $3); }
    ;

campaign
    : KW_CAMPAIGN name opt_title '{' '}' {
        $$ = parse_node(ctx, AST_CAMPAIGN, @2);
        $$->str = $2->str;
        $$->str2 = $3 ? $3->str : NULL;
    }
    | KW_CAMPAIGN name opt_title '{' clauses '}' {
        $$ = parse_node(ctx, AST_CAMPAIGN, @2);
        $$->str = $2->str;
        $$->str2 = $3 ? $3->str : NULL;
        $$->a = $5.head;
    }
    ;

opt_title
    : %empty { $$ = NULL; }
    | STRING { $$ = $1; }
    ;

clauses
    : clause { $$ = parse_list_add(PARSE_LIST_EMPTY, $1); }
    | clauses clause { $$ = parse_list_add($1, $2); }
    ;

clause
    : KW_PRIORITY INT { $$ = parse_node(ctx, AST_C_PRIORITY, @$); $$->ival = parse_int($2); }
    | KW_PRIORITY '-' INT { $$ = parse_node(ctx, AST_C_PRIORITY, @$); $$->ival = -parse_int($3); }
    | KW_GROUP name { $$ = parse_node(ctx, AST_C_GROUP, @$); $$->str = $2->str; }
    | KW_COMBINE KW_ANY { $$ = parse_node_op(ctx, AST_C_COMBINE, COMBINE_ANY, @$); }
    | KW_COMBINE KW_NONE { $$ = parse_node_op(ctx, AST_C_COMBINE, COMBINE_NONE, @$); }
    | KW_COMBINE KW_WITH name_list {
        $$ = parse_node_op(ctx, AST_C_COMBINE, COMBINE_WITH, @$);
        $$->a = $3.head;
    }
    | KW_STOP { $$ = parse_node(ctx, AST_C_STOP, @$); }
    | KW_ACTIVE DATE DOTDOT DATE {
        $$ = parse_node(ctx, AST_C_ACTIVE, @$);
        $$->a = $2;
        $$->b = $4;
    }
    | KW_DAYS day_list { $$ = parse_node(ctx, AST_C_DAYS, @$); $$->a = $2.head; }
    | KW_HOURS hour_list { $$ = parse_node(ctx, AST_C_HOURS, @$); $$->a = $2.head; }
    | KW_STORES store_list { $$ = parse_node(ctx, AST_C_STORES, @$); $$->a = $2.head; }
    | KW_CHANNEL enum_list { $$ = parse_node(ctx, AST_C_CHANNEL, @$); $$->a = $2.head; }
    | KW_CARD string_list { $$ = parse_node(ctx, AST_C_CARD, @$); $$->a = $2.head; }
    | KW_SEGMENT string_list { $$ = parse_node(ctx, AST_C_SEGMENT, @$); $$->a = $2.head; }
    | KW_CODE string_list { $$ = parse_node(ctx, AST_C_CODE, @$); $$->a = $2.head; }
    | KW_WHEN expr { $$ = parse_node(ctx, AST_C_WHEN, @$); $$->a = $2; }
    | KW_THEN rewards { $$ = parse_node(ctx, AST_C_THEN, @$); $$->a = $2.head; }
    | KW_LIMIT INT KW_PER KW_RECEIPT {
        $$ = parse_node_op(ctx, AST_C_LIMIT, LIMIT_RECEIPT, @$);
        $$->ival = parse_int($2);
        $$->ival2 = PERIOD_NONE;
    }
    | KW_LIMIT INT KW_PER KW_CUSTOMER period {
        $$ = parse_node_op(ctx, AST_C_LIMIT, LIMIT_CUSTOMER, @$);
        $$->ival = parse_int($2);
        $$->ival2 = $5;
    }
    | KW_BUDGET money opt_partial {
        $$ = parse_node_op(ctx, AST_C_BUDGET, (int)$3, @$);
        $$->a = $2;
    }
    | example { $$ = $1; }
    | error { $$ = NULL; yyerrok; }
    ;

period
    : %empty { $$ = PERIOD_NONE; }
    | KW_PER KW_DAY { $$ = PERIOD_DAY; }
    | KW_PER KW_WEEK { $$ = PERIOD_WEEK; }
    | KW_PER KW_MONTH { $$ = PERIOD_MONTH; }
    ;

opt_partial
    : %empty { $$ = 0; }
    | KW_PARTIAL { $$ = 1; }
    ;

day_list
    : dayspec { $$ = parse_list1($1); }
    | day_list ',' dayspec { $$ = parse_list_add($1, $3); }
    ;

dayspec
    : weekday {
        $$ = parse_node(ctx, AST_DAYRANGE, @$);
        $$->ival = $1;
        $$->ival2 = $1;
    }
    | weekday DOTDOT weekday {
        $$ = parse_node(ctx, AST_DAYRANGE, @$);
        $$->ival = $1;
        $$->ival2 = $3;
    }
    ;

weekday
    : KW_MON { $$ = 0; }
    | KW_TUE { $$ = 1; }
    | KW_WED { $$ = 2; }
    | KW_THU { $$ = 3; }
    | KW_FRI { $$ = 4; }
    | KW_SAT { $$ = 5; }
    | KW_SUN { $$ = 6; }
    ;

hour_list
    : timerange { $$ = parse_list1($1); }
    | hour_list ',' timerange { $$ = parse_list_add($1, $3); }
    ;

timerange
    : TIME DOTDOT TIME {
        $$ = parse_node(ctx, AST_TIMERANGE, @$);
        $$->a = $1;
        $$->b = $3;
    }
    ;

store_list
    : store_item { $$ = parse_list1($1); }
    | store_list ',' store_item { $$ = parse_list_add($1, $3); }
    ;

store_item
    : INT { $$ = $1; }
    | STRING { $$ = $1; }
    | KW_REGION STRING { $$ = parse_node(ctx, AST_REGION, @$); $$->str = $2->str; }
    ;

/* Enumeration members: the reserved words, any other identifier (sema reports an
 * unknown member, E018), or the member quoted. All become IDENT nodes. */
enum_value
    : IDENT { $$ = $1; }
    | enum_word { $$ = parse_word(ctx, @1); }
    | STRING {
        $$ = parse_node(ctx, AST_IDENT, @1);
        $$->str = $1->str;
    }
    ;

enum_word
    : KW_POS | KW_ONLINE | KW_CASH | KW_CARD | KW_CREDIT | KW_BONUS | KW_MIXED
    | KW_MON | KW_TUE | KW_WED | KW_THU | KW_FRI | KW_SAT | KW_SUN
    ;

enum_list
    : enum_value { $$ = parse_list1($1); }
    | enum_list ',' enum_value { $$ = parse_list_add($1, $3); }
    ;

string_list
    : STRING { $$ = parse_list1($1); }
    | string_list ',' STRING { $$ = parse_list_add($1, $3); }
    ;

numlit
    : INT { $$ = $1; }
    | DECIMAL { $$ = $1; }
    ;

/* Amounts of clauses and rewards. A minus parses, so the checks can say "negative
 * money" (E013) rather than leave a bare syntax error. */
money
    : numlit { $$ = $1; }
    | '-' numlit { $$ = parse_node_op(ctx, AST_UNOP, UN_NEG, @$); $$->a = $2; }
    ;

/* ---- rewards ---- */

rewards
    : reward { $$ = parse_list1($1); }
    | rewards ';' reward { $$ = parse_list_add($1, $3); }
    ;

reward
    : KW_DISCOUNT PERCENT KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_DISCOUNT_PCT, @$);
        $$->a = $2;
        $$->c = $4;
    }
    | KW_DISCOUNT money KW_EACH KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_DISCOUNT_EACH, @$);
        $$->a = $2;
        $$->c = $5;
    }
    | KW_DISCOUNT money KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_DISCOUNT_AMOUNT, @$);
        $$->a = $2;
        $$->c = $4;
    }
    | KW_PRICE money KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_PRICE, @$);
        $$->a = $2;
        $$->c = $4;
    }
    | KW_BUY INT KW_GET INT KW_FREE KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_BUY_FREE, @$);
        $$->ival = parse_int($2);
        $$->ival2 = parse_int($4);
        $$->c = $7;
    }
    | KW_BUY INT KW_GET INT KW_AT PERCENT KW_OFF KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_BUY_PCT, @$);
        $$->ival = parse_int($2);
        $$->ival2 = parse_int($4);
        $$->a = $6;
        $$->c = $9;
    }
    | KW_BUNDLE INT KW_FOR money KW_ON target {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_BUNDLE, @$);
        $$->ival = parse_int($2);
        $$->a = $4;
        $$->c = $6;
    }
    | KW_POINTS PERCENT KW_OF KW_PAID opt_on_target points_when {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_POINTS_PCT, @$);
        $$->a = $2;
        $$->c = $5;
        $$->d1 = $6.act;
        $$->d2 = $6.exp;
    }
    | KW_POINTS money points_when {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_POINTS_FIXED, @$);
        $$->a = $2;
        $$->d1 = $3.act;
        $$->d2 = $3.exp;
    }
    | KW_COUPON STRING {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_COUPON, @$);
        $$->str = $2->str;
    }
    | KW_MESSAGE STRING {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_MESSAGE, @$);
        $$->str = $2->str;
    }
    | KW_SPEND_LIMIT steps {
        $$ = parse_node_op(ctx, AST_REWARD, REWARD_SPEND_LIMIT, @$);
        $$->a = $2.head;
    }
    ;

target
    : KW_RECEIPT { $$ = parse_node_op(ctx, AST_TARGET, TARGET_RECEIPT, @$); }
    | KW_LINES { $$ = parse_node_op(ctx, AST_TARGET, TARGET_LINES, @$); }
    | KW_LINES KW_WHERE expr {
        $$ = parse_node_op(ctx, AST_TARGET, TARGET_LINES, @$);
        $$->a = $3;
    }
    ;

opt_on_target
    : %empty { $$ = NULL; }
    | KW_ON target { $$ = $2; }
    ;

points_when
    : %empty { $$.act = -1; $$.exp = -1; }
    | KW_ACTIVATE KW_IN duration { $$.act = (int32_t)$3->ival; $$.exp = -1; }
    | KW_EXPIRE KW_IN duration { $$.act = -1; $$.exp = (int32_t)$3->ival; }
    | KW_ACTIVATE KW_IN duration KW_EXPIRE KW_IN duration {
        $$.act = (int32_t)$3->ival;
        $$.exp = (int32_t)$6->ival;
    }
    ;

/* DURATION: ival = days; ival2 = the count as written; op = 1 when written in weeks. */
duration
    : INT dur_unit {
        $$ = parse_node_op(ctx, AST_DURATION, $2 == 7, @$);
        $$->ival2 = parse_int($1);
        /* PB_MAX_DAYS (about 100 years) bounds every duration: points dates and history
         * windows stay valid calendar dates whatever the receipt date. */
        if ($$->ival2 > PB_MAX_DAYS / $2) {
            diag_report(&ctx->c->diags, DIAG_E012, @1, "duration is too long (at most %d days)",
                        PB_MAX_DAYS);
            $$->ival2 = 0;
        }
        $$->ival = $$->ival2 * $2;
    }
    ;

dur_unit
    : KW_DAY { $$ = 1; }
    | KW_DAYS { $$ = 1; }
    | KW_WEEK { $$ = 7; }
    | KW_WEEKS { $$ = 7; }
    ;

steps
    : step { $$ = parse_list1($1); }
    | steps ',' step { $$ = parse_list_add($1, $3); }
    ;

step
    : PERCENT { $$ = parse_node(ctx, AST_STEP, @$); $$->a = $1; }
    | PERCENT KW_IF expr {
        $$ = parse_node(ctx, AST_STEP, @$);
        $$->a = $1;
        $$->b = $3;
    }
    ;

/* ---- expressions ---- */

expr
    : expr KW_OR expr { $$ = parse_bin(ctx, BIN_OR, $1, $3, @$); }
    | expr KW_AND expr { $$ = parse_bin(ctx, BIN_AND, $1, $3, @$); }
    | KW_NOT expr { $$ = parse_op(ctx, AST_UNOP, UN_NOT, $2, NULL, @$); }
    | expr EQEQ expr { $$ = parse_bin(ctx, BIN_EQ, $1, $3, @$); }
    | expr NE expr { $$ = parse_bin(ctx, BIN_NE, $1, $3, @$); }
    | expr '<' expr { $$ = parse_bin(ctx, BIN_LT, $1, $3, @$); }
    | expr LE expr { $$ = parse_bin(ctx, BIN_LE, $1, $3, @$); }
    | expr '>' expr { $$ = parse_bin(ctx, BIN_GT, $1, $3, @$); }
    | expr GE expr { $$ = parse_bin(ctx, BIN_GE, $1, $3, @$); }
    | expr KW_IN expr { $$ = parse_bin(ctx, BIN_IN, $1, $3, @$); }
    | expr KW_NOT KW_IN expr %prec KW_IN { $$ = parse_bin(ctx, BIN_NOT_IN, $1, $4, @$); }
    | expr '+' expr { $$ = parse_bin(ctx, BIN_ADD, $1, $3, @$); }
    | expr '-' expr { $$ = parse_bin(ctx, BIN_SUB, $1, $3, @$); }
    | expr '*' expr { $$ = parse_bin(ctx, BIN_MUL, $1, $3, @$); }
    | '-' expr %prec UMINUS { $$ = parse_op(ctx, AST_UNOP, UN_NEG, $2, NULL, @$); }
    | primary { $$ = $1; }
    ;

primary
    : literal { $$ = $1; }
    | '(' expr ')' { $$ = $2; }
    | IDENT { $$ = $1; }
    | enum_word { $$ = parse_word(ctx, @1); }
    | list { $$ = $1; }
    | fact { $$ = $1; }
    | agg_fn '(' KW_LINES opt_where ')' { $$ = $1; $$->a = $4; $$->span = @$; }
    | KW_HISTORY '.' hist_fn '(' KW_LINES opt_where ',' duration ')' {
        $$ = $3;
        $$->a = $6;
        $$->b = $8;
        $$->span = @$;
    }
    | KW_HISTORY '.' KW_VISITS '(' duration ')' {
        $$ = parse_node_op(ctx, AST_HIST, HIST_OP_VISITS, @$);
        $$->b = $5;
    }
    ;

literal
    : INT | DECIMAL | PERCENT | STRING | DATE | TIME | DATETIME
    ;

list
    : '[' ']' { $$ = parse_node(ctx, AST_LIST, @$); }
    | '[' list_items ']' { $$ = parse_node(ctx, AST_LIST, @$); $$->a = $2.head; }
    ;

list_items
    : list_item { $$ = parse_list1($1); }
    | list_items ',' list_item { $$ = parse_list_add($1, $3); }
    ;

list_item
    : literal { $$ = $1; }
    | IDENT { $$ = $1; }
    | enum_word { $$ = parse_word(ctx, @1); }
    ;

opt_where
    : %empty { $$ = NULL; }
    | KW_WHERE expr { $$ = $2; }
    ;

agg_fn
    : KW_SUM { $$ = parse_node_op(ctx, AST_AGG, AGG_OP_SUM, @$); }
    | KW_COUNT { $$ = parse_node_op(ctx, AST_AGG, AGG_OP_COUNT, @$); }
    | KW_ANY { $$ = parse_node_op(ctx, AST_AGG, AGG_OP_ANY, @$); }
    | KW_DISTINCT { $$ = parse_node_op(ctx, AST_AGG, AGG_OP_DISTINCT, @$); }
    ;

hist_fn
    : KW_SUM { $$ = parse_node_op(ctx, AST_HIST, HIST_OP_SUM, @$); }
    | KW_COUNT { $$ = parse_node_op(ctx, AST_HIST, HIST_OP_COUNT, @$); }
    ;

fact
    : rfact { $$ = $1; }
    | KW_RECEIPT '.' rfact { $$ = $3; $$->span = @$; }
    | KW_CUSTOMER '.' cfact { $$ = $3; $$->span = @$; }
    | KW_SEGMENT STRING { $$ = parse_fact(ctx, FACT_SEGMENT, $2, @$); }
    | KW_CARD STRING { $$ = parse_fact(ctx, FACT_CARD_IS, $2, @$); }
    | lfact { $$ = $1; }
    | KW_LINE '.' lfact { $$ = $3; $$->span = @$; }
    ;

rfact
    : KW_TOTAL { $$ = parse_fact(ctx, FACT_TOTAL, NULL, @$); }
    | KW_ORIGINAL_TOTAL { $$ = parse_fact(ctx, FACT_ORIGINAL_TOTAL, NULL, @$); }
    | KW_STORE { $$ = parse_fact(ctx, FACT_STORE, NULL, @$); }
    | KW_REGION { $$ = parse_fact(ctx, FACT_REGION, NULL, @$); }
    | KW_CHANNEL { $$ = parse_fact(ctx, FACT_CHANNEL, NULL, @$); }
    | KW_PAYMENT { $$ = parse_fact(ctx, FACT_PAYMENT, NULL, @$); }
    | KW_CODE STRING { $$ = parse_fact(ctx, FACT_CODE, $2, @$); }
    | KW_TIME { $$ = parse_fact(ctx, FACT_TIME, NULL, @$); }
    | KW_DATE { $$ = parse_fact(ctx, FACT_DATE, NULL, @$); }
    | KW_WEEKDAY { $$ = parse_fact(ctx, FACT_WEEKDAY, NULL, @$); }
    | KW_ATTR STRING { $$ = parse_fact(ctx, FACT_ATTR, $2, @$); }
    ;

cfact
    : KW_SEGMENT STRING { $$ = parse_fact(ctx, FACT_SEGMENT, $2, @$); }
    | KW_CARD { $$ = parse_fact(ctx, FACT_CARD, NULL, @$); }
    | KW_CARD STRING { $$ = parse_fact(ctx, FACT_CARD_IS, $2, @$); }
    | KW_TIER { $$ = parse_fact(ctx, FACT_TIER, NULL, @$); }
    | KW_BIRTHDAY KW_WITHIN duration {
        $$ = parse_fact(ctx, FACT_BIRTHDAY_WITHIN, NULL, @$);
        $$->ival = $3->ival;
    }
    | KW_REGISTERED { $$ = parse_fact(ctx, FACT_REGISTERED, NULL, @$); }
    | KW_ATTR STRING { $$ = parse_fact(ctx, FACT_CUSTOMER_ATTR, $2, @$); }
    | KW_ID { $$ = parse_fact(ctx, FACT_CUSTOMER_ID, NULL, @$); }
    ;

lfact
    : KW_SKU { $$ = parse_fact(ctx, FACT_SKU, NULL, @$); }
    | KW_CATEGORY { $$ = parse_fact(ctx, FACT_CATEGORY, NULL, @$); }
    | KW_BRAND { $$ = parse_fact(ctx, FACT_BRAND, NULL, @$); }
    | KW_QTY { $$ = parse_fact(ctx, FACT_QTY, NULL, @$); }
    | KW_PRICE { $$ = parse_fact(ctx, FACT_PRICE, NULL, @$); }
    | KW_ORIGINAL_PRICE { $$ = parse_fact(ctx, FACT_ORIGINAL_PRICE, NULL, @$); }
    | KW_AMOUNT { $$ = parse_fact(ctx, FACT_AMOUNT, NULL, @$); }
    | KW_EXCLUDED { $$ = parse_fact(ctx, FACT_EXCLUDED, NULL, @$); }
    | KW_SKU STRING { $$ = parse_fact(ctx, FACT_SKU_IS, $2, @$); }
    | KW_CATEGORY STRING { $$ = parse_fact(ctx, FACT_CATEGORY_IS, $2, @$); }
    | KW_BRAND STRING { $$ = parse_fact(ctx, FACT_BRAND_IS, $2, @$); }
    ;

/* ---- example blocks (SPEC 6) ---- */

example
    : KW_EXAMPLE STRING '{' '}' {
        $$ = parse_node(ctx, AST_C_EXAMPLE, @$);
        $$->str = $2->str;
    }
    | KW_EXAMPLE STRING '{' ex_items '}' {
        $$ = parse_node(ctx, AST_C_EXAMPLE, @$);
        $$->str = $2->str;
        $$->a = $4.head;
    }
    ;

ex_items
    : ex_item { $$ = parse_list_add(PARSE_LIST_EMPTY, $1); }
    | ex_items ex_item { $$ = parse_list_add($1, $2); }
    ;

ex_item
    : KW_CUSTOMER '{' '}' { $$ = parse_node(ctx, AST_EX_CUSTOMER, @$); }
    | KW_CUSTOMER '{' cust_items '}' { $$ = parse_node(ctx, AST_EX_CUSTOMER, @$); $$->a = $3.head; }
    | KW_STORE INT { $$ = parse_field(ctx, "store", $2, @$); }
    | KW_STORE STRING { $$ = parse_field(ctx, "store", $2, @$); }
    | KW_REGION STRING { $$ = parse_field(ctx, "region", $2, @$); }
    | KW_CHANNEL enum_value { $$ = parse_field(ctx, "channel", $2, @$); }
    | KW_TIME DATETIME { $$ = parse_field(ctx, "time", $2, @$); }
    | KW_PAYMENT enum_value { $$ = parse_field(ctx, "payment", $2, @$); }
    | KW_POINTS_PAID numlit { $$ = parse_field(ctx, "points_paid", $2, @$); }
    | KW_CODE STRING { $$ = parse_field(ctx, "code", $2, @$); }
    | KW_ATTR STRING attr_value {
        $$ = parse_field(ctx, "attr", $3, @$);
        $$->str2 = $2->str;
    }
    | KW_LINE line_items { $$ = parse_node(ctx, AST_EX_LINE, @$); $$->a = $2.head; }
    | KW_HISTORY DATETIME '{' '}' {
        $$ = parse_node(ctx, AST_EX_HISTORY, @$);
        $$->a = $2;
    }
    | KW_HISTORY DATETIME '{' ex_items '}' {
        $$ = parse_node(ctx, AST_EX_HISTORY, @$);
        $$->a = $2;
        $$->b = $4.head;
    }
    | KW_EXPECT expectation { $$ = $2; $$->span = @$; }
    | error { $$ = NULL; yyerrok; }
    ;

attr_value
    : STRING { $$ = $1; }
    | numlit { $$ = $1; }
    ;

cust_items
    : cust_item { $$ = parse_list_add(PARSE_LIST_EMPTY, $1); }
    | cust_items cust_item { $$ = parse_list_add($1, $2); }
    ;

cust_item
    : KW_ID STRING { $$ = parse_field(ctx, "id", $2, @$); }
    | KW_CARD STRING { $$ = parse_field(ctx, "card", $2, @$); }
    | KW_SEGMENTS list { $$ = parse_field(ctx, "segments", $2, @$); }
    | KW_TIER STRING { $$ = parse_field(ctx, "tier", $2, @$); }
    | KW_BIRTHDAY DATE { $$ = parse_field(ctx, "birthday", $2, @$); }
    | KW_REGISTERED { $$ = parse_field(ctx, "registered", NULL, @$); }
    | KW_ATTR STRING attr_value {
        $$ = parse_field(ctx, "attr", $3, @$);
        $$->str2 = $2->str;
    }
    | error { $$ = NULL; yyerrok; }
    ;

line_items
    : %empty { $$ = PARSE_LIST_EMPTY; }
    | line_items line_item { $$ = parse_list_add($1, $2); }
    ;

line_item
    : KW_SKU STRING { $$ = parse_field(ctx, "sku", $2, @$); }
    | KW_CATEGORY STRING { $$ = parse_field(ctx, "category", $2, @$); }
    | KW_BRAND STRING { $$ = parse_field(ctx, "brand", $2, @$); }
    | KW_QTY numlit { $$ = parse_field(ctx, "qty", $2, @$); }
    | KW_PRICE numlit { $$ = parse_field(ctx, "price", $2, @$); }
    | KW_EXCLUDED { $$ = parse_field(ctx, "excluded", NULL, @$); }
    ;

/* EX_EXPECT: str = sku / text / campaign id; b, c = activate/expire dates. */
expectation
    : KW_DISCOUNT numlit { $$ = parse_expect(ctx, EXP_DISCOUNT, $2, @$); }
    | KW_DISCOUNT numlit KW_ON STRING {
        $$ = parse_expect(ctx, EXP_DISCOUNT, $2, @$);
        $$->str = $4->str;
    }
    | KW_TOTAL numlit { $$ = parse_expect(ctx, EXP_TOTAL, $2, @$); }
    | KW_FINAL numlit { $$ = parse_expect(ctx, EXP_FINAL, $2, @$); }
    | KW_POINTS numlit exp_from exp_activate exp_expire {
        $$ = parse_expect(ctx, EXP_POINTS, $2, @$);
        $$->str = $3 ? $3->str : NULL;
        $$->b = $4;
        $$->c = $5;
    }
    | KW_COUPON STRING { $$ = parse_expect(ctx, EXP_COUPON, NULL, @$); $$->str = $2->str; }
    | KW_MESSAGE STRING { $$ = parse_expect(ctx, EXP_MESSAGE, NULL, @$); $$->str = $2->str; }
    | KW_SPEND_LIMIT numlit { $$ = parse_expect(ctx, EXP_SPEND_LIMIT, $2, @$); }
    | KW_SPEND_LIMIT KW_NONE { $$ = parse_expect(ctx, EXP_SPEND_LIMIT, NULL, @$); }
    | KW_APPLIED name { $$ = parse_expect(ctx, EXP_APPLIED, NULL, @$); $$->str = $2->str; }
    | KW_NOT KW_APPLIED name {
        $$ = parse_expect(ctx, EXP_APPLIED, NULL, @$);
        $$->str = $3->str;
        $$->ival = 1;
    }
    ;

exp_from
    : %empty { $$ = NULL; }
    | KW_FROM name { $$ = $2; }
    ;

exp_activate
    : %empty { $$ = NULL; }
    | KW_ACTIVATE DATE { $$ = $2; }
    ;

exp_expire
    : %empty { $$ = NULL; }
    | KW_EXPIRE DATE { $$ = $2; }
    ;

keyword: KW_ACTIVATE | KW_ACTIVE | KW_AMOUNT | KW_AND | KW_ANY | KW_APPLIED | KW_AT
        | KW_ATTR | KW_BENEFIT | KW_BIRTHDAY | KW_BONUS | KW_BRAND | KW_BUDGET | KW_BUNDLE
        | KW_BUY | KW_CAMPAIGN | KW_CARD | KW_CASH | KW_CATEGORY | KW_CHANNEL | KW_CODE
        | KW_COMBINE | KW_COUNT | KW_COUPON | KW_CREDIT | KW_CUSTOMER | KW_DATE | KW_DAY
        | KW_DAYS | KW_DISCOUNT | KW_DISTINCT | KW_EACH | KW_EXAMPLE | KW_EXCLUDED
        | KW_EXPECT | KW_EXPIRE | KW_FINAL | KW_FOR | KW_FREE | KW_FRI | KW_FROM | KW_GET
        | KW_GROUP | KW_HISTORY | KW_HOURS | KW_ID | KW_IF | KW_IN | KW_LIMIT | KW_LINE
        | KW_LINES | KW_MESSAGE | KW_MIXED | KW_MON | KW_MONTH | KW_NONE | KW_NOT | KW_OF
        | KW_OFF | KW_ON | KW_ONLINE | KW_OR | KW_ORIGINAL_PRICE | KW_ORIGINAL_TOTAL
        | KW_PAID | KW_PARTIAL | KW_PAYMENT | KW_PER | KW_POINTS | KW_POINTS_PAID | KW_POS
        | KW_PRICE | KW_PRIORITY | KW_QTY | KW_RECEIPT | KW_REGION | KW_REGISTERED | KW_SAT
        | KW_SEGMENT | KW_SEGMENTS | KW_SET | KW_SKU | KW_SPEND_LIMIT | KW_STOP | KW_STORE
        | KW_STORES | KW_SUM | KW_SUN | KW_THEN | KW_THU | KW_TIEBREAK | KW_TIER | KW_TIME
        | KW_TOTAL | KW_TUE | KW_VISITS | KW_WED | KW_WEEK | KW_WEEKDAY | KW_WEEKS | KW_WHEN
        | KW_WHERE | KW_WITH | KW_WITHIN
    ;
%%

/* ---- syntax error messages ---- */

/* Bison symbol kinds -> token numbers, so messages are built from tokens. Only runs
 * when an error is reported. */
static void parse_sym_tokens(int map[YYNTOKENS]) {
    for (int s = 0; s < YYNTOKENS; s++) map[s] = YYUNDEF;
    for (int t = YYMAXUTOK; t >= 0; t--) {
        int s = YYTRANSLATE(t);
        if (s >= 0 && s < YYNTOKENS && (s != YYSYMBOL_YYUNDEF || t == YYUNDEF)) map[s] = t;
    }
}

const char *parse_token_name(int token) {
    if (token < 0 || token > YYMAXUTOK) return "invalid token";
    return yysymbol_name(YYTRANSLATE(token));
}

/* Long lists of expected tokens are summarised: when the trigger tokens are all
 * expected, the members are replaced by one phrase ("a clause"). */
typedef struct parse_group {
    const char *label;
    int trigger[3];
    int members[64];
} parse_group;

#define EXPR_START                                                                          \
    IDENT, INT, DECIMAL, PERCENT, STRING, DATE, TIME, DATETIME, '(', '[', '-', KW_NOT,     \
        KW_RECEIPT, KW_CUSTOMER, KW_LINE, KW_TOTAL, KW_ORIGINAL_TOTAL, KW_STORE, KW_REGION, \
        KW_CHANNEL, KW_PAYMENT, KW_CODE, KW_TIME, KW_DATE, KW_WEEKDAY, KW_ATTR, KW_SEGMENT, \
        KW_CARD, KW_SKU, KW_CATEGORY, KW_BRAND, KW_QTY, KW_PRICE, KW_ORIGINAL_PRICE,        \
        KW_AMOUNT, KW_EXCLUDED, KW_SUM, KW_COUNT, KW_ANY, KW_DISTINCT, KW_HISTORY, KW_POS,  \
        KW_ONLINE, KW_CASH, KW_CREDIT, KW_BONUS, KW_MIXED, KW_MON, KW_TUE, KW_WED, KW_THU,  \
        KW_FRI, KW_SAT, KW_SUN

static const parse_group parse_groups[] = {
    {"a declaration", {KW_CAMPAIGN, KW_SET}, {KW_CAMPAIGN, KW_SET, KW_GROUP, KW_TIEBREAK}},
    {"a clause",
     {KW_PRIORITY, KW_WHEN},
     {KW_PRIORITY, KW_GROUP, KW_COMBINE, KW_STOP, KW_ACTIVE, KW_DAYS, KW_HOURS, KW_STORES,
      KW_CHANNEL, KW_CARD, KW_SEGMENT, KW_CODE, KW_WHEN, KW_THEN, KW_LIMIT, KW_BUDGET,
      KW_EXAMPLE}},
    {"a reward",
     {KW_BUY, KW_BUNDLE},
     {KW_DISCOUNT, KW_PRICE, KW_BUY, KW_BUNDLE, KW_POINTS, KW_COUPON, KW_MESSAGE,
      KW_SPEND_LIMIT}},
    {"an expression", {'(', KW_SUM}, {EXPR_START}},
    {"an operator",
     {KW_AND, '+'},
     {KW_AND, KW_OR, KW_NOT, KW_IN, EQEQ, NE, '<', LE, '>', GE, '+', '-', '*'}},
    {"an example item",
     {KW_EXPECT, KW_LINE},
     {KW_CUSTOMER, KW_STORE, KW_REGION, KW_CHANNEL, KW_TIME, KW_PAYMENT, KW_POINTS_PAID,
      KW_CODE, KW_ATTR, KW_LINE, KW_HISTORY, KW_EXPECT}},
    {"a line field",
     {KW_QTY, KW_EXCLUDED},
     {KW_SKU, KW_CATEGORY, KW_BRAND, KW_QTY, KW_PRICE, KW_EXCLUDED}},
    {"a customer field",
     {KW_SEGMENTS, KW_TIER},
     {KW_ID, KW_CARD, KW_SEGMENTS, KW_TIER, KW_BIRTHDAY, KW_REGISTERED, KW_ATTR}},
    {"an expectation",
     {KW_APPLIED, KW_FINAL},
     {KW_DISCOUNT, KW_TOTAL, KW_FINAL, KW_POINTS, KW_COUPON, KW_MESSAGE, KW_SPEND_LIMIT,
      KW_APPLIED, KW_NOT}},
    {"a weekday", {KW_MON, KW_SUN}, {KW_MON, KW_TUE, KW_WED, KW_THU, KW_FRI, KW_SAT, KW_SUN}},
    {"a receipt fact",
     {KW_ORIGINAL_TOTAL, KW_WEEKDAY},
     {KW_TOTAL, KW_ORIGINAL_TOTAL, KW_STORE, KW_REGION, KW_CHANNEL, KW_PAYMENT, KW_CODE,
      KW_TIME, KW_DATE, KW_WEEKDAY, KW_ATTR}},
    {"a customer fact",
     {KW_TIER, KW_SEGMENT},
     {KW_SEGMENT, KW_CARD, KW_TIER, KW_BIRTHDAY, KW_REGISTERED, KW_ATTR, KW_ID}},
    {"a line fact",
     {KW_ORIGINAL_PRICE, KW_QTY},
     {KW_SKU, KW_CATEGORY, KW_BRAND, KW_QTY, KW_PRICE, KW_ORIGINAL_PRICE, KW_AMOUNT,
      KW_EXCLUDED}},
    {"a duration unit", {KW_DAYS, KW_WEEKS}, {KW_DAY, KW_DAYS, KW_WEEK, KW_WEEKS}},
    {"a number", {INT, DECIMAL}, {INT, DECIMAL}},
};

static int parse_has(const int *toks, int n, int t) {
    for (int i = 0; i < n; i++)
        if (toks[i] == t) return 1;
    return 0;
}

/* Member lists end at the first 0 (END is never a member). */
static int parse_member(const parse_group *pg, int t) {
    for (int i = 0; i < 64 && pg->members[i]; i++)
        if (pg->members[i] == t) return 1;
    return 0;
}

static int parse_is_keyword(int t) {
    const char *name = parse_token_name(t);
    return t >= KW_ACTIVATE && t <= KW_WITHIN && name[0] == '\'';
}

/* "found Y": the token, with its text for names and literals. */
static void parse_describe(strbuf *sb, parse_ctx *ctx, int tok, const YYLTYPE *loc) {
    sb_puts(sb, parse_token_name(tok));
    if (tok == IDENT || tok == INT || tok == DECIMAL || tok == PERCENT || tok == DATE ||
        tok == TIME || tok == DATETIME || tok == STRING) {
        const char *text = ctx->c->files[loc->file].text + loc->off;
        int n = (int)loc->len;
        const char *more = "";
        if (n > 40) n = 40, more = "...";
        if (tok == STRING)
            sb_printf(sb, " %.*s%s", n, text, more);
        else
            sb_printf(sb, " '%.*s%s'", n, text, more);
    }
}

/* A keyword's text without its quotes ("'priority'" -> "priority"). */
static const char *parse_kw_text(int t, char *buf, size_t n) {
    const char *name = parse_token_name(t);
    size_t len = strlen(name);
    if (len < 3 || name[0] != '\'' || len - 2 >= n) return NULL;
    memcpy(buf, name + 1, len - 2);
    buf[len - 2] = 0;
    return buf;
}

/* The keyword closest to `word` among `toks` (all keywords when toks is NULL); 0 when
 * none is close (common/suggest.c). */
static int parse_closest_keyword(const char *word, const int *toks, int ntoks) {
    static char names[KW_WITHIN - KW_ACTIVATE + 1][24];
    suggest_state st;
    suggest_init(&st, word);
    int n = toks ? ntoks : KW_WITHIN - KW_ACTIVATE + 1;
    for (int i = 0; i < n; i++) {
        int t = toks ? toks[i] : KW_ACTIVATE + i;
        if (!parse_is_keyword(t) || t - KW_ACTIVATE >= (int)(sizeof names / sizeof names[0]))
            continue;
        char *buf = names[t - KW_ACTIVATE];
        if (parse_kw_text(t, buf, sizeof names[0])) suggest_offer(&st, buf);
    }
    if (!st.best) return 0;
    return (int)((st.best - names[0]) / (ptrdiff_t)sizeof names[0]) + KW_ACTIVATE;
}

/* On the first syntax error of a parse: an identifier where keywords were expected
 * (`priorty 10`), or one just before a literal that cannot follow it (`categroy "tea"`)
 * close to a keyword proposes a substitution. Returns its message (to free) or NULL. */
static char *parse_propose(parse_ctx *ctx, int found, const YYLTYPE *loc, const int *exp,
                           int nexp, const char *message) {
    if (!ctx->propose || ctx->nerrors != 1 || ctx->nsubst >= PARSE_MAX_SUBST) return NULL;
    const src_file *f = &ctx->c->files[ctx->file];
    char word[65], kw[24];
    strbuf sb = STRBUF_INIT;
    if (found == IDENT && !parse_has(exp, nexp, IDENT) && loc->len < sizeof word) {
        memcpy(word, f->text + loc->off, loc->len);
        word[loc->len] = 0;
        int t = parse_closest_keyword(word, exp, nexp);
        if (!t) return NULL;
        ctx->pending.off = loc->off;
        ctx->pending.tok = t;
        sb_printf(&sb, "%s (did you mean '%s'?)", message, parse_kw_text(t, kw, sizeof kw));
    } else if ((found == STRING || found == INT || found == DECIMAL || found == PERCENT) &&
               ctx->prev_tok == IDENT && ctx->prev_span.len < sizeof word) {
        memcpy(word, f->text + ctx->prev_span.off, ctx->prev_span.len);
        word[ctx->prev_span.len] = 0;
        int t = parse_closest_keyword(word, NULL, 0);
        if (!t) return NULL;
        ctx->pending.off = ctx->prev_span.off;
        ctx->pending.tok = t;
        sb_printf(&sb, "unknown word '%s' (did you mean '%s'?)", word,
                  parse_kw_text(t, kw, sizeof kw));
    } else {
        return NULL;
    }
    ctx->pending.err_off = loc->off;
    ctx->pending.msg = sb.data;
    return sb.data;
}

static int yyreport_syntax_error(const yypcontext_t *yctx, parse_ctx *ctx) {
    yysymbol_kind_t syms[YYNTOKENS];
    int nsym = yypcontext_expected_tokens(yctx, syms, YYNTOKENS);
    int map[YYNTOKENS], exp[YYNTOKENS] = {0}, nexp = 0;
    parse_sym_tokens(map);
    for (int i = 0; i < nsym; i++) exp[nexp++] = map[syms[i]];
    int found = map[yypcontext_token(yctx)];
    const YYLTYPE *loc = yypcontext_location(yctx);
    if (ctx->nerrors++ == 0) ctx->first_err = loc->off;
    int raw[YYNTOKENS], nraw = nexp; /* before the summaries */
    memcpy(raw, exp, sizeof raw);

    const char *labels[YYNTOKENS];
    int nlabels = 0;
    int eq_expected = parse_has(exp, nexp, EQEQ);
    /* In name positions every reserved word is accepted: say "a name". */
    if (parse_has(exp, nexp, IDENT) && parse_has(exp, nexp, KW_WITHIN)) {
        int w = 0;
        for (int i = 0; i < nexp; i++)
            if (!parse_is_keyword(exp[i]) && exp[i] != IDENT) exp[w++] = exp[i];
        nexp = w;
        labels[nlabels++] = "a name";
    }
    for (size_t g = 0; g < sizeof parse_groups / sizeof parse_groups[0]; g++) {
        const parse_group *pg = &parse_groups[g];
        int all = 1;
        for (int k = 0; k < 3 && pg->trigger[k]; k++)
            if (!parse_has(exp, nexp, pg->trigger[k])) all = 0;
        if (!all) continue;
        int w = 0;
        for (int i = 0; i < nexp; i++)
            if (!parse_member(pg, exp[i])) exp[w++] = exp[i];
        nexp = w;
        labels[nlabels++] = pg->label;
    }
    /* A reserved word where a plain identifier is wanted (`set date = ...`). */
    int keyword_as_ident = parse_is_keyword(found) && parse_has(exp, nexp, IDENT);

    /* Single tokens first (the likeliest fix, e.g. ';'), then the summaries, then
     * closing brackets and end of file: "expected ';', a clause or '}'". */
    const char *items[2 * YYNTOKENS];
    int total = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nexp; i++) {
            int closer = exp[i] == '}' || exp[i] == ')' || exp[i] == ']' || exp[i] == END;
            if (closer == pass) items[total++] = parse_token_name(exp[i]);
        }
        if (pass == 0)
            for (int i = 0; i < nlabels; i++) items[total++] = labels[i];
    }
    strbuf sb = STRBUF_INIT;
    if (total > 0) {
        sb_puts(&sb, "expected ");
        for (int i = 0; i < total; i++) {
            if (i > 0) sb_puts(&sb, i == total - 1 ? " or " : ", ");
            sb_puts(&sb, items[i]);
        }
        sb_puts(&sb, ", found ");
    } else {
        sb_puts(&sb, "unexpected ");
    }
    parse_describe(&sb, ctx, found, loc);
    if (keyword_as_ident) sb_puts(&sb, " (a reserved word)");
    if (found == '=' && eq_expected) sb_puts(&sb, " (to compare, write '==')");
    if (parse_propose(ctx, found, loc, raw, nraw, sb_cstr(&sb))) {
        /* parse_file parses again with the keyword; this round's report is dropped */
        sb_free(&sb);
        return 0;
    }
    diag *d = diag_report(&ctx->c->diags, DIAG_E004, *loc, "%s", sb_cstr(&sb));
    sb_free(&sb);
    /* Point at the innermost open bracket when the error looks like it was never
     * closed: the file ends, a new declaration starts, or another closer comes. The
     * lexer is one token ahead: an opening bracket just read is not the one to blame. */
    const lexer *lx = &ctx->lx;
    int top = lx->nopen - 1;
    if (found == '{' || found == '(' || found == '[') top--;
    if (top >= 0 && top < LEX_MAX_OPEN) {
        char k = lx->open_kind[top];
        int closer = k == '{' ? '}' : k == '(' ? ')' : ']';
        int unclosed = found == END || found == KW_CAMPAIGN || found == KW_SET ||
                       found == KW_TIEBREAK ||
                       ((found == '}' || found == ')' || found == ']') && found != closer);
        if (unclosed && (found == END || parse_has(exp, nexp, closer)))
            diag_add_note(d, lx->open[top], "to match this '%c'", k);
    }
    return 0;
}

/* ---- entry point ---- */

/* One parse of the file with the substitutions found so far. */
static ast_node *parse_round(compilation *c, uint32_t file, parse_comments *comments,
                             const parse_subst *subst, int nsubst, int propose, parse_ctx *ctx) {
    memset(ctx, 0, sizeof *ctx);
    ctx->c = c;
    ctx->file = file;
    ctx->first_err = UINT32_MAX;
    ctx->subst = subst;
    ctx->nsubst = nsubst;
    ctx->propose = propose;
    lex_init(&ctx->lx, c, file, comments);
    src_span whole = {file, 1, 1, 0, (uint32_t)c->files[file].len};
    ctx->root = ast_new(c->arena, AST_FILE, whole);
    ctx->root->str = c->files[file].path;
    ctx->root->ival = file;
    if (yyparse(ctx) != 0) return NULL;
    return ctx->root;
}

ast_node *parse_file(compilation *c, uint32_t file, parse_comments *comments) {
    parse_subst subst[PARSE_MAX_SUBST];
    int nsubst = 0, just_added = 0;
    int propose = comments == NULL; /* fmt leaves files with errors alone anyway */
    size_t n0 = c->diags.n;
    parse_ctx ctx;
    ast_node *root;
    for (;;) {
        root = parse_round(c, file, comments, subst, nsubst, propose, &ctx);
        if (just_added && ctx.first_err <= subst[nsubst - 1].err_off) {
            /* The keyword did not get the parser past the error it was proposed for:
             * withdraw it and report that error as it was. */
            xfree(subst[--nsubst].msg);
            xfree(ctx.pending.msg);
            propose = 0;
            just_added = 0;
        } else if (ctx.pending.msg) {
            subst[nsubst++] = ctx.pending;
            just_added = 1;
        } else {
            break;
        }
        diag_truncate(&c->diags, n0);
    }
    for (int i = 0; i < nsubst; i++)
        xfree(subst[i].msg);
    return root;
}

void parse_comments_free(parse_comments *cm) {
    xfree(cm->items);
    cm->items = NULL;
    cm->n = cm->cap = 0;
}
