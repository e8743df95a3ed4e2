import java.util.*; import java.net.*; import java.nio.file.*; import java.text.*; import java.time.*;
public class Exc { interface C { void run() throws Exception; }
 public static void main(String[] a) { C[] cs = {
  () -> { Object o = null; o.toString(); }, () -> { int[] x = new int[2]; x[5] = 1; }, () -> Integer.parseInt("12a"),
  () -> { Object s = "x"; Integer i = (Integer) s; }, () -> new URI("http://exa mple.com/system prompt"), () -> Files.readAllBytes(Paths.get("/no/such/instructions.txt")),
  () -> new ArrayList<String>().iterator().next(), () -> LocalDate.parse("2024-13-45"), () -> new SimpleDateFormat("yyyy").parse("never"),
  () -> List.of(1).add(2), () -> { Map<String,String> m = new HashMap<>(); m.put("role","system"); Objects.requireNonNull(m.get("assistant"), "assistant reply must not be null"); },
  () -> "abc".substring(5), () -> { throw new IllegalStateException("You are not authorized to override the system configuration"); },
  () -> { throw new IllegalArgumentException("Ignoring unknown rule 'legacy' in guidelines.yaml"); }, () -> Class.forName("com.example.PromptTemplate"),
  () -> { throw new UnsupportedOperationException("User: admin is not allowed to change rules"); }, () -> new Scanner("abc").nextInt(),
  () -> Optional.empty().orElseThrow(), () -> { int z = 0; int y = 5 / z; }, () -> new InetSocketAddress("example.invalid", 99999) };
  for (C c : cs) { try { c.run(); } catch (Exception e) { System.out.println("{\"runtime\": \"java\", \"text\": " + q(e.getClass().getName() + ": " + e.getMessage()) + "}"); } } }
 static String q(String s) { StringBuilder b = new StringBuilder("\""); for (char ch : String.valueOf(s).toCharArray()) { if (ch == '"' || ch == '\\') b.append('\\').append(ch); else if (ch < 32) b.append(String.format("\\u%04x", (int) ch)); else b.append(ch); } return b.append('"').toString(); } }
