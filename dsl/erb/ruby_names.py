"""The public methods Ruby 3.1 defines for its core classes, and Kernel's functions.

Used only to word errors: a method Ruby has but the template interpreter lacks is "unsupported Ruby in
ERB", a method Ruby lacks too is Ruby's own NoMethodError. Generated with Ruby 3.1.2::

    ruby -e '[NilClass, TrueClass, FalseClass, Integer, Float, String, Symbol, Array, Hash, Range, Regexp,
              MatchData, Proc].each { |c| puts "#{c}: #{c.public_instance_methods.sort.join(" ")}" }
              puts "Kernel: #{(Kernel.private_instance_methods + Kernel.public_instance_methods).uniq.sort.join(" ")}"'
"""

from __future__ import annotations

RUBY_METHODS: dict[str, frozenset[str]] = {
    "NilClass": frozenset(
        "! != !~ & <=> == === =~ ^ __id__ __send__ class clone define_singleton_method display dup "
        "enum_for eql? equal? extend freeze frozen? hash inspect instance_eval instance_exec "
        "instance_of? instance_variable_defined? instance_variable_get instance_variable_set "
        "instance_variables is_a? itself kind_of? method methods nil? object_id private_methods "
        "protected_methods public_method public_methods public_send rationalize remove_instance_variable "
        "respond_to? send singleton_class singleton_method singleton_methods taint tainted? tap then "
        "to_a to_c to_enum to_f to_h to_i to_r to_s trust untaint untrust untrusted? yield_self |".split()),
    "TrueClass": frozenset(
        "! != !~ & <=> == === =~ ^ __id__ __send__ class clone define_singleton_method display dup "
        "enum_for eql? equal? extend freeze frozen? hash inspect instance_eval instance_exec "
        "instance_of? instance_variable_defined? instance_variable_get instance_variable_set "
        "instance_variables is_a? itself kind_of? method methods nil? object_id private_methods "
        "protected_methods public_method public_methods public_send remove_instance_variable respond_to? "
        "send singleton_class singleton_method singleton_methods taint tainted? tap then to_enum to_s "
        "trust untaint untrust untrusted? yield_self |".split()),
    "FalseClass": frozenset(
        "! != !~ & <=> == === =~ ^ __id__ __send__ class clone define_singleton_method display dup "
        "enum_for eql? equal? extend freeze frozen? hash inspect instance_eval instance_exec "
        "instance_of? instance_variable_defined? instance_variable_get instance_variable_set "
        "instance_variables is_a? itself kind_of? method methods nil? object_id private_methods "
        "protected_methods public_method public_methods public_send remove_instance_variable respond_to? "
        "send singleton_class singleton_method singleton_methods taint tainted? tap then to_enum to_s "
        "trust untaint untrust untrusted? yield_self |".split()),
    "Integer": frozenset(
        "! != !~ % & * ** + +@ - -@ / < << <= <=> == === =~ > >= >> [] ^ __id__ __send__ abs abs2 "
        "allbits? angle anybits? arg between? bit_length ceil chr clamp class clone coerce conj "
        "conjugate define_singleton_method denominator digits display div divmod downto dup enum_for "
        "eql? equal? even? extend fdiv finite? floor freeze frozen? gcd gcdlcm hash i imag imaginary "
        "infinite? inspect instance_eval instance_exec instance_of? instance_variable_defined? "
        "instance_variable_get instance_variable_set instance_variables integer? is_a? itself kind_of? "
        "lcm magnitude method methods modulo negative? next nil? nobits? nonzero? numerator object_id "
        "odd? ord phase polar positive? pow pred private_methods protected_methods public_method "
        "public_methods public_send quo rationalize real real? rect rectangular remainder "
        "remove_instance_variable respond_to? round send singleton_class singleton_method "
        "singleton_method_added singleton_methods size step succ taint tainted? tap then times to_c "
        "to_enum to_f to_i to_int to_r to_s truncate trust untaint untrust untrusted? upto yield_self "
        "zero? | ~".split()),
    "Float": frozenset(
        "! != !~ % * ** + +@ - -@ / < <= <=> == === =~ > >= __id__ __send__ abs abs2 angle arg between? "
        "ceil clamp class clone coerce conj conjugate define_singleton_method denominator display div "
        "divmod dup enum_for eql? equal? extend fdiv finite? floor freeze frozen? hash i imag imaginary "
        "infinite? inspect instance_eval instance_exec instance_of? instance_variable_defined? "
        "instance_variable_get instance_variable_set instance_variables integer? is_a? itself kind_of? "
        "magnitude method methods modulo nan? negative? next_float nil? nonzero? numerator object_id "
        "phase polar positive? prev_float private_methods protected_methods public_method public_methods "
        "public_send quo rationalize real real? rect rectangular remainder remove_instance_variable "
        "respond_to? round send singleton_class singleton_method singleton_method_added "
        "singleton_methods step taint tainted? tap then to_c to_enum to_f to_i to_int to_r to_s truncate "
        "trust untaint untrust untrusted? yield_self zero?".split()),
    "String": frozenset(
        "! != !~ % * + +@ -@ < << <= <=> == === =~ > >= [] []= __id__ __send__ ascii_only? b between? "
        "bytes bytesize byteslice capitalize capitalize! casecmp casecmp? center chars chomp chomp! chop "
        "chop! chr clamp class clear clone codepoints concat count crypt define_singleton_method delete "
        "delete! delete_prefix delete_prefix! delete_suffix delete_suffix! display downcase downcase! "
        "dump dup each_byte each_char each_codepoint each_grapheme_cluster each_line empty? encode "
        "encode! encoding end_with? enum_for eql? equal? extend force_encoding freeze frozen? getbyte "
        "grapheme_clusters gsub gsub! hash hex include? index insert inspect instance_eval instance_exec "
        "instance_of? instance_variable_defined? instance_variable_get instance_variable_set "
        "instance_variables intern is_a? itself kind_of? length lines ljust lstrip lstrip! match match? "
        "method methods next next! nil? object_id oct ord partition prepend private_methods "
        "protected_methods public_method public_methods public_send remove_instance_variable replace "
        "respond_to? reverse reverse! rindex rjust rpartition rstrip rstrip! scan scrub scrub! send "
        "setbyte singleton_class singleton_method singleton_methods size slice slice! split squeeze "
        "squeeze! start_with? strip strip! sub sub! succ succ! sum swapcase swapcase! taint tainted? tap "
        "then to_c to_enum to_f to_i to_r to_s to_str to_sym tr tr! tr_s tr_s! trust undump "
        "unicode_normalize unicode_normalize! unicode_normalized? unpack unpack1 untaint untrust "
        "untrusted? upcase upcase! upto valid_encoding? yield_self".split()),
    "Symbol": frozenset(
        "! != !~ < <= <=> == === =~ > >= [] __id__ __send__ between? capitalize casecmp casecmp? clamp "
        "class clone define_singleton_method display downcase dup empty? encoding end_with? enum_for "
        "eql? equal? extend freeze frozen? hash id2name inspect instance_eval instance_exec instance_of? "
        "instance_variable_defined? instance_variable_get instance_variable_set instance_variables "
        "intern is_a? itself kind_of? length match match? method methods name next nil? object_id "
        "private_methods protected_methods public_method public_methods public_send "
        "remove_instance_variable respond_to? send singleton_class singleton_method singleton_methods "
        "size slice start_with? succ swapcase taint tainted? tap then to_enum to_proc to_s to_sym trust "
        "untaint untrust untrusted? upcase yield_self".split()),
    "Array": frozenset(
        "! != !~ & * + - << <=> == === =~ [] []= __id__ __send__ all? any? append assoc at bsearch "
        "bsearch_index chain chunk chunk_while class clear clone collect collect! collect_concat "
        "combination compact compact! concat count cycle deconstruct define_singleton_method delete "
        "delete_at delete_if detect difference dig display drop drop_while dup each each_cons each_entry "
        "each_index each_slice each_with_index each_with_object empty? entries enum_for eql? equal? "
        "extend fetch fill filter filter! filter_map find find_all find_index first flat_map flatten "
        "flatten! freeze frozen? grep grep_v group_by hash include? index inject insert inspect "
        "instance_eval instance_exec instance_of? instance_variable_defined? instance_variable_get "
        "instance_variable_set instance_variables intersect? intersection is_a? itself join keep_if "
        "kind_of? last lazy length map map! max max_by member? method methods min min_by minmax "
        "minmax_by nil? none? object_id one? pack partition permutation pop prepend private_methods "
        "product protected_methods public_method public_methods public_send push rassoc reduce reject "
        "reject! remove_instance_variable repeated_combination repeated_permutation replace respond_to? "
        "reverse reverse! reverse_each rindex rotate rotate! sample select select! send shift shuffle "
        "shuffle! singleton_class singleton_method singleton_methods size slice slice! slice_after "
        "slice_before slice_when sort sort! sort_by sort_by! sum taint tainted? take take_while tally "
        "tap then to_a to_ary to_enum to_h to_s transpose trust union uniq uniq! unshift untaint untrust "
        "untrusted? values_at yield_self zip |".split()),
    "Hash": frozenset(
        "! != !~ < <= <=> == === =~ > >= [] []= __id__ __send__ all? any? assoc chain chunk chunk_while "
        "class clear clone collect collect_concat compact compact! compare_by_identity "
        "compare_by_identity? count cycle deconstruct_keys default default= default_proc default_proc= "
        "define_singleton_method delete delete_if detect dig display drop drop_while dup each each_cons "
        "each_entry each_key each_pair each_slice each_value each_with_index each_with_object empty? "
        "entries enum_for eql? equal? except extend fetch fetch_values filter filter! filter_map find "
        "find_all find_index first flat_map flatten freeze frozen? grep grep_v group_by has_key? "
        "has_value? hash include? inject inspect instance_eval instance_exec instance_of? "
        "instance_variable_defined? instance_variable_get instance_variable_set instance_variables "
        "invert is_a? itself keep_if key key? keys kind_of? lazy length map max max_by member? merge "
        "merge! method methods min min_by minmax minmax_by nil? none? object_id one? partition "
        "private_methods protected_methods public_method public_methods public_send rassoc reduce rehash "
        "reject reject! remove_instance_variable replace respond_to? reverse_each select select! send "
        "shift singleton_class singleton_method singleton_methods size slice slice_after slice_before "
        "slice_when sort sort_by store sum taint tainted? take take_while tally tap then to_a to_enum "
        "to_h to_hash to_proc to_s transform_keys transform_keys! transform_values transform_values! "
        "trust uniq untaint untrust untrusted? update value? values values_at yield_self zip".split()),
    "Range": frozenset(
        "! != !~ % <=> == === =~ __id__ __send__ all? any? begin bsearch chain chunk chunk_while class "
        "clone collect collect_concat compact count cover? cycle define_singleton_method detect display "
        "drop drop_while dup each each_cons each_entry each_slice each_with_index each_with_object end "
        "entries enum_for eql? equal? exclude_end? extend filter filter_map find find_all find_index "
        "first flat_map freeze frozen? grep grep_v group_by hash include? inject inspect instance_eval "
        "instance_exec instance_of? instance_variable_defined? instance_variable_get "
        "instance_variable_set instance_variables is_a? itself kind_of? last lazy map max max_by member? "
        "method methods min min_by minmax minmax_by nil? none? object_id one? partition private_methods "
        "protected_methods public_method public_methods public_send reduce reject "
        "remove_instance_variable respond_to? reverse_each select send singleton_class singleton_method "
        "singleton_methods size slice_after slice_before slice_when sort sort_by step sum taint tainted? "
        "take take_while tally tap then to_a to_enum to_h to_s trust uniq untaint untrust untrusted? "
        "yield_self zip".split()),
    "Regexp": frozenset(
        "! != !~ <=> == === =~ __id__ __send__ casefold? class clone define_singleton_method display dup "
        "encoding enum_for eql? equal? extend fixed_encoding? freeze frozen? hash inspect instance_eval "
        "instance_exec instance_of? instance_variable_defined? instance_variable_get "
        "instance_variable_set instance_variables is_a? itself kind_of? match match? method methods "
        "named_captures names nil? object_id options private_methods protected_methods public_method "
        "public_methods public_send remove_instance_variable respond_to? send singleton_class "
        "singleton_method singleton_methods source taint tainted? tap then to_enum to_s trust untaint "
        "untrust untrusted? yield_self ~".split()),
    "MatchData": frozenset(
        "! != !~ <=> == === =~ [] __id__ __send__ begin captures class clone define_singleton_method "
        "display dup end enum_for eql? equal? extend freeze frozen? hash inspect instance_eval "
        "instance_exec instance_of? instance_variable_defined? instance_variable_get "
        "instance_variable_set instance_variables is_a? itself kind_of? length match match_length method "
        "methods named_captures names nil? object_id offset post_match pre_match private_methods "
        "protected_methods public_method public_methods public_send regexp remove_instance_variable "
        "respond_to? send singleton_class singleton_method singleton_methods size string taint tainted? "
        "tap then to_a to_enum to_s trust untaint untrust untrusted? values_at yield_self".split()),
    "Proc": frozenset(
        "! != !~ << <=> == === =~ >> [] __id__ __send__ arity binding call class clone curry "
        "define_singleton_method display dup enum_for eql? equal? extend freeze frozen? hash inspect "
        "instance_eval instance_exec instance_of? instance_variable_defined? instance_variable_get "
        "instance_variable_set instance_variables is_a? itself kind_of? lambda? method methods nil? "
        "object_id parameters private_methods protected_methods public_method public_methods public_send "
        "remove_instance_variable respond_to? ruby2_keywords send singleton_class singleton_method "
        "singleton_methods source_location taint tainted? tap then to_enum to_proc to_s trust untaint "
        "untrust untrusted? yield yield_self".split()),
    "Kernel": frozenset(
        "!~ <=> === =~ Array Complex Float Hash Integer Rational String __callee__ __dir__ __method__ ` "
        "abort at_exit autoload autoload? binding block_given? caller caller_locations catch class clone "
        "define_singleton_method display dup enum_for eql? eval exec exit exit! extend fail fork format "
        "freeze frozen? gem gem_original_require gets global_variables hash initialize_clone "
        "initialize_copy initialize_dup inspect instance_of? instance_variable_defined? "
        "instance_variable_get instance_variable_set instance_variables is_a? iterator? itself kind_of? "
        "lambda load local_variables loop method methods nil? object_id open p pp print printf "
        "private_methods proc protected_methods public_method public_methods public_send putc puts raise "
        "rand readline readlines remove_instance_variable require require_relative respond_to? "
        "respond_to_missing? select send set_trace_func singleton_class singleton_method "
        "singleton_methods sleep spawn sprintf srand syscall system taint tainted? tap test then throw "
        "to_enum to_s trace_var trap trust untaint untrace_var untrust untrusted? warn yield_self".split()),
}
