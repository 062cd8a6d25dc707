-- Every object of the extension healthml, described by what PostgreSQL keeps of it, one line each,
-- sorted: the upgrade tier compares an upgraded database with a fresh install line by line.
-- Functions with arguments, kind, volatility, parallel safety, security, settings, body and
-- grants; aggregates' support functions; tables and views with columns (in order), defaults,
-- identity, constraints, indexes, triggers, grants and comments; sequences; types; what pg_dump
-- dumps (the extension's configuration tables and sequences).
SET search_path = pg_catalog, pg_temp;
WITH members AS (
    SELECT d.classid, d.objid FROM pg_depend d
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'healthml')
), lines AS (
    SELECT format('function %s | kind %s volatility %s parallel %s strict %s security_definer %s leakproof %s cost %s rows %s | config %s | acl %s | comment %s',
                  p.oid::regprocedure, p.prokind, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef, p.proleakproof,
                  p.procost, p.prorows, p.proconfig, p.proacl, obj_description(p.oid, 'pg_proc')) AS line
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT format('function %s | definition %s', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)))
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid WHERE p.prokind <> 'a'
    UNION ALL
    SELECT format('aggregate %s | %s %s %s %s %s %s %s %s', a.aggfnoid::regprocedure, a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
                  a.aggserialfn, a.aggdeserialfn, a.aggtranstype::regtype, a.aggfinalmodify, a.agginitval)
    FROM members m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid
    UNION ALL
    SELECT format('relation %s | kind %s persistence %s options %s | acl %s | comment %s', c.oid::regclass, c.relkind, c.relpersistence,
                  c.reloptions, c.relacl, obj_description(c.oid, 'pg_class'))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT format('column %s.%s | position %s type %s not_null %s default %s identity %s generated %s | acl %s | comment %s',
                  c.oid::regclass, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attacl, col_description(c.oid, a.attnum))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    WHERE c.relkind <> 'S'
    UNION ALL
    SELECT format('constraint %s on %s | %s', co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid))
    FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT format('index on %s | %s', i.indrelid::regclass, regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON', 'INDEX ON'))
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT format('trigger %s | %s | enabled %s', t.tgname, pg_get_triggerdef(t.oid), t.tgenabled)
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('view %s | %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence %s | %s %s %s %s %s %s', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement,
                  s.seqmax, s.seqmin, s.seqcycle)
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'healthml'::regnamespace
    UNION ALL
    SELECT format('type %s | %s', t.oid::regtype, t.typtype)
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    SELECT format('schema %s | acl %s', n.nspname, n.nspacl) FROM pg_namespace n WHERE n.nspname = 'healthml'
    UNION ALL
    SELECT format('dumped by pg_dump: %s %s', x.relation::regclass, coalesce(x.condition, ''))
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(relation, condition) WHERE e.extname = 'healthml'
)
SELECT line FROM lines ORDER BY line COLLATE "C";
