// bench/ann/peer_ann.cpp — the peers of bench_ann.c, measured the same way:
// hnswlib (Debian's libhnswlib-dev) and FAISS IndexHNSWFlat (libfaiss-dev).
// Built by bench/ann/run.sh outside the project's build; never part of mast.
//
//   peer_ann hnswlib|faiss BASE.fvecs QUERY.fvecs M EF_CONSTRUCTION THREADS EF,EF,... PREFIX
//
// Cosine: vectors are normalized and compared by inner product, as hnswlib's
// own "cosine" space does. Build with THREADS threads, search at one thread.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <hnswlib/hnswlib.h>
#ifdef WITH_FAISS
#include <faiss/IndexHNSW.h>
#include <omp.h>
#endif

static std::vector<float> read_fvecs(const char *path, size_t &n, int &dim)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    std::vector<float> out;
    int d;
    n = 0;
    while (fread(&d, 4, 1, f) == 1) {
        dim = d;
        size_t at = out.size();
        out.resize(at + d);
        if (fread(out.data() + at, 4, d, f) != (size_t)d) { fprintf(stderr, "%s: short row\n", path); exit(1); }
        n++;
    }
    fclose(f);
    return out;
}

static void normalize(std::vector<float> &x, int dim)
{
    for (size_t i = 0; i < x.size(); i += dim) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)x[i + d] * x[i + d];
        float inv = s > 0 ? (float)(1 / std::sqrt(s)) : 0;
        for (int d = 0; d < dim; d++) x[i + d] *= inv;
    }
}

static long rss_kb()
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main(int argc, char **argv)
{
    if (argc < 9) { fprintf(stderr, "usage: peer_ann hnswlib|faiss BASE QUERY M EFC THREADS EF,EF,... PREFIX\n"); return 2; }
    std::string lib = argv[1];
    size_t nb, nq;
    int dim, qdim;
    std::vector<float> base = read_fvecs(argv[2], nb, dim), q = read_fvecs(argv[3], nq, qdim);
    normalize(base, dim);
    normalize(q, dim);
    int M = atoi(argv[4]), efc = atoi(argv[5]), threads = atoi(argv[6]);
    std::vector<int> efs;
    std::stringstream ss(argv[7]);
    for (std::string t; std::getline(ss, t, ',');) efs.push_back(atoi(t.c_str()));
    long rss0 = rss_kb();
    double t0 = now();
    hnswlib::InnerProductSpace space(dim);
    hnswlib::HierarchicalNSW<float> *h = nullptr;
#ifdef WITH_FAISS
    faiss::IndexHNSWFlat *fi = nullptr;
#endif
    if (lib == "hnswlib") {
        h = new hnswlib::HierarchicalNSW<float>(&space, nb, M, efc, 42);
        h->addPoint(base.data(), 0);
        std::atomic<size_t> next(1);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++)
            pool.emplace_back([&] {
                for (size_t i; (i = next++) < nb;) h->addPoint(base.data() + i * dim, i);
            });
        for (auto &t : pool) t.join();
    } else {
#ifdef WITH_FAISS
        omp_set_num_threads(threads);
        fi = new faiss::IndexHNSWFlat(dim, M, faiss::METRIC_INNER_PRODUCT);
        fi->hnsw.efConstruction = efc;
        fi->add(nb, base.data());
        omp_set_num_threads(1);
#else
        fprintf(stderr, "peer_ann: built without FAISS\n");
        return 2;
#endif
    }
    double build_s = now() - t0, index_mb = (rss_kb() - rss0) / 1024.0;
    for (int ef : efs) {
        std::vector<long long> out(nq * 10, -1);
        double s0 = now();
        if (h) {
            h->setEf(ef);
            for (size_t i = 0; i < nq; i++) {
                auto r = h->searchKnn(q.data() + i * dim, 10);
                for (size_t j = r.size(); j-- > 0;) { out[i * 10 + j] = (long long)r.top().second; r.pop(); }
            }
        }
#ifdef WITH_FAISS
        else {
            fi->hnsw.efSearch = ef;
            std::vector<float> D(10);
            std::vector<faiss::Index::idx_t> labels(10);
            for (size_t i = 0; i < nq; i++) {
                fi->search(1, q.data() + i * dim, 10, D.data(), labels.data());
                for (int j = 0; j < 10; j++) out[i * 10 + j] = labels[j];
            }
        }
#endif
        double secs = now() - s0;
        std::string path = std::string(argv[8]) + "-ef" + std::to_string(ef) + ".json";
        FILE *f = fopen(path.c_str(), "w");
        fprintf(f, "{\"qps\": %.1f, \"ids\": [", nq / secs);
        for (size_t i = 0; i < nq; i++) {
            fprintf(f, i ? ",\n[" : "[");
            for (int j = 0; j < 10; j++) fprintf(f, j ? ",%lld" : "%lld", out[i * 10 + j]);
            fprintf(f, "]");
        }
        fprintf(f, "]}\n");
        fclose(f);
        printf("{\"lib\": \"%s\", \"m\": %d, \"storage\": \"f32\", \"build_s\": %.2f, \"index_mb\": %.1f, "
               "\"ef\": %d, \"qps\": %.1f, \"file\": \"%s\"}\n",
               lib.c_str(), M, build_s, index_mb, ef, nq / secs, path.c_str());
        fflush(stdout);
    }
    return 0;
}
