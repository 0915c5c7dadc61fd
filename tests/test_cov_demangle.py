"""outputs/report/demangle.py: Itanium names from a real compiler, against c++filt.

The mangled names were produced by g++ 12.2 (-std=c++20) from a small C++ file written for this test (each
kind of name the decoder handles: templates, the anonymous namespace, constructors and destructors, operators,
std:: substitutions, abi tags, lambdas, local names and statics, decltype / vector / _Float16 / array /
member-pointer parameters, template literals of every form), and a few hand-written ones for constructs g++ 12
cannot emit (C++20 template-parameter declarations, _BitInt, std::bfloat16_t, unnamed types). The expected short
names are c++filt's text shortened by the documented rules: template arguments as `<…>`, no parameter list, a
lambda as `{lambda}`, a string literal as `{string}`.
"""
import shutil
import subprocess

import pytest

from traceflops.outputs.report.demangle import demangle_name, short_name

GXX = {
    "_Z3usev": "use",
    "_Z5ptr_tILPi0EEvv": "ptr_t<…>",                                   # ptr_t<(int*)0>()
    "_ZN12_GLOBAL__N_111anon_kernelIfEEvPT_i": "(anonymous namespace)::anon_kernel<…>",
    "_ZN2ns11unnamed_objE": "ns::unnamed_obj",
    "_ZN2ns2dtIiEEDTplfp_Li1EET_": "ns::dt<…>",                        # decltype({parm#1}+(1)) ns::dt<int>(int)
    "_ZN2ns2ttINS_3BoxEEEvPT_IiE": "ns::tt<…>",                       # a template template argument
    "_ZN2ns3ObjC1Ev": "ns::Obj::Obj", "_ZN2ns3ObjC2Ev": "ns::Obj::Obj",
    "_ZN2ns3ObjD1Ev": "ns::Obj::~Obj", "_ZN2ns3ObjD2Ev": "ns::Obj::~Obj",
    "_ZN2ns3ObjaSERKS0_": "ns::Obj::operator=",
    "_ZN2ns3ObjnwEm": "ns::Obj::operator new",
    "_ZNK2ns3ObjclEi": "ns::Obj::operator()",                          # operator()(int) const
    "_ZNK2ns3ObjeqERKS0_": "ns::Obj::operator==",
    "_ZNO2ns3Obj1mEv": "ns::Obj::m",                                   # m() &&
    "_ZN2ns3arrEPA4_i": "ns::arr",                                     # arr(int (*) [4])
    "_ZN2ns3f16EDF16_": "ns::f16",                                     # f16(_Float16)
    "_ZN2ns3vecEDv4_i": "ns::vec",                                     # vec(int __vector(4))
    "_ZN2ns4callIZNS_7lambdasEvEUlvE_EEvT_": "ns::call<…>",
    "_ZN2ns6KernelILi4EfE3runEPf": "ns::Kernel<…>::run",
    "_ZN2ns6memptrEMNS_3ObjEi": "ns::memptr",                          # memptr(int ns::Obj::*)
    "_ZN2ns7__cxx116TaggedB5cxx112goEv": "ns::__cxx11::Tagged::go",    # the [abi:cxx11] tag left out
    "_ZN2ns7lit_numILm7EEEvv": "ns::lit_num<…>",
    "_ZN2ns7lit_ptrIXadL_Z10global_varEEEEvv": "ns::lit_ptr<…>",       # lit_ptr<&global_var>
    "_ZN2ns7stringsENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERSt6vectorIiSaIiEE": "ns::strings",
    "_ZN2ns9lit_typedIiLin3EEEvv": "ns::lit_typed<…>",                 # lit_typed<int, -3>
    "_ZNSt6vectorIiSaIiEE9push_backERKi": "std::vector<…>::push_back",
    "_ZNSaIcED1Ev": "std::allocator<…>::~allocator",                   # a destructor after a std:: substitution
    "_ZSt4moveIRiEONSt16remove_referenceIT_E4typeEOS2_": "std::move<…>",
    "_ZZN2ns12local_staticEvE7counter": "ns::local_static::counter",   # a function's static
    "_ZZN2ns12local_staticEvEN5Local3hitEv": "ns::local_static::Local::hit",
    "_ZZN2ns7lambdasEvENKUliE0_clEi": "ns::lambdas::{lambda}::operator()",
    "_ZZN2ns9local_strEvE1s": "ns::local_str::s",
}
HAND = {
    "_ZZ1fvEs": "f::{string}",                                         # f()::string literal
    "_Z1fDB8_": "f", "_Z1fDU8_": "f",                                  # f(_BitInt(8)), f(unsigned _BitInt(8))
    "_Z1fDF16b": "f", "_Z1fDF32x": "f",                                # std::bfloat16_t, _Float32x
    "_ZN2ns3FooUt_4moveEv": "ns::Foo::{unnamed type}::move",
    "_ZN1N1fITnDaLi3EEEvv": "N::f<…>",                                 # template <auto> (C++20 Tn)
    "_ZN1AIiE1fIJiEEEvDpT_": "A<…>::f<…>",                            # a pack expansion
    "_Z1gIiEvPFT_vE": "g<…>",                                          # a function-pointer parameter
    "_ZN1N1kILDnEEEvv": "N::k<…>",                                     # a nullptr literal
    "_ZN1N1cIL_ZNS_1xEEEEvv": "N::c<…>",                               # an external-name literal
    "_ZN1N1fILNS_1EE2EEEvv": "N::f<…>",                                # an enum literal
    "_ZN1N1SIfEC2Ev": "N::S<…>::S", "_ZN1N1SD0Ev": "N::S::~S",
    "_ZN1N1SixEi": "N::S::operator[]",
    "_ZN5outerUlvE_clEv": "outer::{lambda}::operator()",
    "_ZN1N1fIiEEvDTcl1gfp_EE": "_ZN1N1fIiEEvDTcl1gfp_EE",             # a call expression: not parsed, kept
    "_ZL3foov": "foo", "_ZN2nsL3fooEv": "ns::foo",                      # internal linkage (static functions)
    "_ZN1N1fITtTyENS_1XEEEvv": "N::f<…>",                              # template <template <class> class>
    "_ZZ4mainENKUlTyT_E_clIiEEDaS_": "main::{lambda}::operator()<…>",  # a generic lambda (C++20 Ty)
    "_Z1fIUt_Evv": "f<…>",                                             # an unnamed type as template argument
    "_Z1fIL1E2EEvv": "f<…>",                                           # f<(E)2>
    "_ZN1S1xMUlvE_clEv": "S::x::{lambda}::operator()",                 # a lambda in a member initializer
}


@pytest.mark.parametrize("mangled,want", sorted({**GXX, **HAND}.items()))
def test_short_names(mangled, want):
    assert short_name(mangled, 400) == want
    if want != mangled:
        assert short_name("_" + mangled, 400) == want  # macOS symbols carry one more underscore


@pytest.mark.skipif(not shutil.which("c++filt"), reason="c++filt not installed (only the cross-check needs it)")
def test_the_compiler_names_agree_with_cxxfilt():
    # c++filt's text, shortened by the text rules, names the same entity (where its text has no return type, local
    # scope "()" or lambda signature, which the short form leaves out)
    plain = [m for m, want in GXX.items() if "::{" not in want and "local_" not in m and "move" not in m
             and "dtIiE" not in m and "nwEm" not in m and "Tagged" not in m]
    out = subprocess.run(["c++filt"], input="\n".join(plain), capture_output=True, text=True, check=True).stdout
    for m, d in zip(plain, out.splitlines()):
        assert short_name(d, 400) == GXX[m], (m, d)


@pytest.mark.parametrize("bad", [
    "_Z", "_ZN3foo", "_Z3fo", "_Z3fooIL", "_Z1fIDF", "_ZN2nsS_3fooEv", "_Z1fA",
    "_ZN1aC1", "_Z1fDv4", "_ZN1a3fooEvX", "_Z1fIiEvT", "_ZN", "_ZNK", "_Zz", "_ZN1aUt", "_Z1fIfpE", "_ZLxv",
])
def test_malformed_names_are_not_decoded(bad):
    assert demangle_name(bad) is None
    assert short_name(bad) == bad  # kept as written, never dropped


def test_text_names():
    # a demangled or plain name: parameter lists and member qualifiers go, words in parentheses stay
    assert short_name("void ns::Kernel<4, float>::run(float*) const &&") == "ns::Kernel<…>::run"
    assert short_name("Memcpy DtoD (Device -> Device)") == "Memcpy DtoD (Device -> Device)"
    assert short_name("(anonymous namespace)::k<int>(int)") == "(anonymous namespace)::k<…>"
    assert short_name("triton_poi_fused_add_0") == "triton_poi_fused_add_0"
    assert short_name("f(int") == "f(int" and short_name("f)") == "f)"  # unbalanced
    assert short_name(None) is None and demangle_name(None) is None
    assert len(short_name("ns::" + "x" * 100, 40)) == 40
